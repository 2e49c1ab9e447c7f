#!/usr/bin/env node
/*
 * Decode Sparkplug B payloads to JSON (debugging aid for the edge.js test peer).
 *
 *   node tests/sparkplug/decode.js TOPIC HEX        decode one payload given as hex
 *   node tests/sparkplug/decode.js TOPIC --file F   decode one payload read from file F
 *   mosquitto_sub -p PORT -t 'spBv1.0/#' -F '%t %x' | node tests/sparkplug/decode.js
 *                                                   decode a stream of "TOPIC HEX" lines
 *
 * Prints "TOPIC JSON" per payload. 64-bit values (Long) are printed as strings.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');

const clientDir = path.dirname(require.resolve('sparkplug-client'));
const spb = require(require.resolve('sparkplug-payload', { paths: [clientDir] })).get('spBv1.0');

function toJson(v) {
  return JSON.stringify(v, (k, x) => {
    if (x && typeof x === 'object' && typeof x.low === 'number' && typeof x.high === 'number' &&
        'unsigned' in x) return x.toString();
    if (x instanceof Uint8Array) return Buffer.from(x).toString('hex');
    return x;
  });
}

function decode(topic, buf) {
  let body;
  try {
    body = toJson(spb.decodePayload(buf));
  } catch (e) {
    body = `<undecodable: ${e.message}; hex ${buf.toString('hex')}>`;
  }
  process.stdout.write(`${topic} ${body}\n`);
}

process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const argv = process.argv.slice(2);
if (argv.length === 2) {
  decode(argv[0], Buffer.from(argv[1], 'hex'));
} else if (argv.length === 3 && argv[1] === '--file') {
  decode(argv[0], fs.readFileSync(argv[2]));
} else if (argv.length === 0) {
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  rl.on('line', (line) => {
    const sp = line.lastIndexOf(' ');
    if (sp < 0) return;
    decode(line.slice(0, sp), Buffer.from(line.slice(sp + 1), 'hex'));
  });
} else {
  process.stderr.write('usage: decode.js [TOPIC (HEX | --file F)]\n');
  process.exit(2);
}
