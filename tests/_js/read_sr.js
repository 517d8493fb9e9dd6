// Read a DICOM SR with OHIF's reader (dcmjs adapters.Cornerstone.MeasurementReport) and print
// the measurements it recognises as JSON: {"Length": [...], "Bidirectional": [...]}.
// Usage: node read_sr.js FILE.dcm
"use strict";
const fs = require("fs");
const dcmjs = require("dcmjs");

const log = console.log;
console.log = (...args) => console.error(...args); // generateToolState logs to stdout
// dcmjs logs through loglevel too; keep stdout for the JSON only.
dcmjs.log.setLevel("error");

const buffer = fs.readFileSync(process.argv[2]);
const arrayBuffer = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength);
const dicomData = dcmjs.data.DicomMessage.readFile(arrayBuffer);
const dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dicomData.dict);
const toolState = dcmjs.adapters.Cornerstone.MeasurementReport.generateToolState(dataset);

const summary = {};
for (const [tool, items] of Object.entries(toolState)) {
  summary[tool] = items.map((item) => ({
    sopInstanceUid: item.sopInstanceUid,
    length: item.length !== undefined ? Number(item.length) : undefined,
    longestDiameter: item.longestDiameter !== undefined ? Number(item.longestDiameter) : undefined,
    shortestDiameter:
      item.shortestDiameter !== undefined ? Number(item.shortestDiameter) : undefined,
    handles: item.handles,
    location: item.location,
  }));
}
log(JSON.stringify(summary));
