// Write an SR the way OHIF v2 does (dcmjs adapters.Cornerstone.MeasurementReport.generateReport)
// from a JSON description, so the tests can check that we read OHIF's flavour.
// Usage: node write_sr.js INPUT.json OUTPUT.dcm
// INPUT: {"patient": {PatientID, PatientName, StudyDate, ...}, "studyInstanceUID",
//         "seriesInstanceUID", "images": [{"sopInstanceUID", "sopClassUID"}],
//         "toolState": {imageIndex: {"Length": {"data": [...]}, "Bidirectional": {...}}}}
"use strict";
const fs = require("fs");
const dcmjs = require("dcmjs");

dcmjs.log.setLevel("error");
const input = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const imageIds = input.images.map((_, index) => `image:${index}`);
const metadataProvider = {
  get(type, imageId) {
    const image = input.images[imageIds.indexOf(imageId)];
    if (type === "generalSeriesModule") {
      return {
        studyInstanceUID: input.studyInstanceUID,
        seriesInstanceUID: input.seriesInstanceUID,
      };
    }
    if (type === "sopCommonModule") {
      return { sopInstanceUID: image.sopInstanceUID, sopClassUID: image.sopClassUID };
    }
    if (type === "frameNumber") {
      return 1;
    }
    return undefined;
  },
};
const toolState = {};
for (const [index, tools] of Object.entries(input.toolState)) {
  toolState[imageIds[Number(index)]] = tools;
}
const report = dcmjs.adapters.Cornerstone.MeasurementReport.generateReport(
  toolState,
  metadataProvider,
);
Object.assign(report.dataset, input.patient);
const buffer = dcmjs.data.datasetToBuffer(report.dataset);
fs.writeFileSync(process.argv[3], Buffer.from(buffer));
