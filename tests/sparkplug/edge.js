#!/usr/bin/env node
/*
 * Sparkplug B edge-node test peer for twinscope's end-to-end tests.
 *
 * Built on Eclipse Tahu's JavaScript client (npm `sparkplug-client`, pinned
 * in package.json). The Rust tests spawn it as a child process and drive it
 * over stdin/stdout against a real MQTT broker.
 *
 * Usage:
 *   node tests/sparkplug/edge.js --broker mqtt://127.0.0.1:PORT \
 *        --group G --node N --device D [--client-id ID] [--bdseq N] \
 *        [--no-aliases] [--no-publish-death] [--username U --password P]
 *        [--ignore-writes NAME,NAME]
 *
 * stdout lines (each written immediately, one per line):
 *   birth bdSeq=<n>   NBIRTH+DBIRTH published after an MQTT (re)connect
 *   connected         follows the first `birth` line (once per MQTT connect)
 *   ncmd rebirth      an NCMD `Node Control/Rebirth`=true arrived; NBIRTH+DBIRTH
 *                     were already re-published when this line is printed
 *   ncmd <json>       any other NCMD (decoded payload)
 *   dcmd <dev> <json> any DCMD (decoded payload). A DCMD writing a device metric is
 *                     applied (the new value reported in DDATA, as an edge does) unless
 *                     the metric is listed in --ignore-writes.
 *   closed            the MQTT connection closed
 *   ok <command>      a stdin command completed
 *   err <command>: <message>   a stdin command failed
 *
 * stdin commands (one per line):
 *   data NAME VALUE   DDATA for the device with that one metric (by alias unless
 *                     --no-aliases). VALUE is the rest of the line, parsed per the
 *                     metric's datatype (Boolean: true/false; Recipe: JSON rows).
 *   flood N           N DDATA (Temperature) as fast as the client publishes them;
 *                     answers `ok flood N <seconds> <msg/s>` once the socket drained
 *   gap               the NEXT published message skips one seq number
 *   rebirth           publish NBIRTH + DBIRTH again (same bdSeq, seq reset to 0)
 *   kill              SIGKILL ourselves: no MQTT DISCONNECT, broker sends NDEATH will
 *   stop              clean stop (NDEATH unless --no-publish-death, then DISCONNECT), exit 0
 * EOF on stdin behaves like `stop`.
 */
'use strict';

const path = require('path');
const readline = require('readline');

// ---------------------------------------------------------------- arguments
function usage(msg) {
  if (msg) process.stderr.write(`edge.js: ${msg}\n`);
  process.stderr.write(
    'usage: node edge.js --broker mqtt://HOST:PORT --group G --node N --device D ' +
      '[--client-id ID] [--bdseq N] [--no-aliases] [--no-publish-death] ' +
      '[--username U] [--password P]\n'
  );
  process.exit(2);
}

const args = {
  broker: null, group: null, node: null, device: null, clientId: null,
  bdSeq: 0, aliases: true, publishDeath: true, username: null, password: null,
  ignoreWrites: [],
};
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`missing value for ${a}`);
      return argv[++i];
    };
    switch (a) {
      case '--broker': args.broker = val(); break;
      case '--group': args.group = val(); break;
      case '--node': args.node = val(); break;
      case '--device': args.device = val(); break;
      case '--client-id': args.clientId = val(); break;
      case '--bdseq': {
        const v = val();
        if (!/^\d+$/.test(v) || Number(v) > 255) usage(`--bdseq must be 0..255, got ${v}`);
        args.bdSeq = Number(v);
        break;
      }
      case '--no-aliases': args.aliases = false; break;
      case '--no-publish-death': args.publishDeath = false; break;
      case '--username': args.username = val(); break;
      case '--password': args.password = val(); break;
      case '--ignore-writes': args.ignoreWrites = val().split(','); break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  for (const k of ['broker', 'group', 'node', 'device']) {
    if (!args[k]) usage(`--${k} is required`);
  }
  if (!args.clientId) args.clientId = `twinscope-edge-${args.group}-${args.node}-${process.pid}`;
}

// -------------------------------------------------------------------- output
// process.stdout.write to a pipe/file is synchronous on Linux, so every line
// is out before the next statement runs (important before `kill`).
function out(line) {
  process.stdout.write(line + '\n');
}
// If the test harness closes our stdout, keep going (stdin EOF stops us).
process.stdout.on('error', (e) => {
  if (e.code !== 'EPIPE') throw e;
});

// ------------------------------------------------------------------ modules
// Resolve mqtt / sparkplug-payload exactly as sparkplug-client resolves them.
const clientDir = path.dirname(require.resolve('sparkplug-client'));
const mqtt = require(require.resolve('mqtt', { paths: [clientDir] }));
const sparkplugPayload = require(require.resolve('sparkplug-payload', { paths: [clientDir] }));
const spb = sparkplugPayload.get('spBv1.0');
const sparkplugClient = require('sparkplug-client');

// ------------------------------------------------------------------ bdSeq
// sparkplug-client 3.2.4 hard-codes `this.bdSeq = 0` in its constructor, never
// increments it, and encodes the MQTT will (NDEATH with metric bdSeq) inside
// the constructor, which immediately calls mqtt.connect() - and mqtt 4.x
// serialises the CONNECT packet (will included) synchronously. So setting
// client.bdSeq afterwards would make NBIRTH and the will disagree. Instead we
// wrap mqtt.connect (sparkplug-client reads it through a live getter on the
// same module object) and rewrite the will payload with our bdSeq, then set
// client.bdSeq before the first 'birth' event (which only fires on CONNACK).
function deathPayload() {
  return {
    timestamp: Date.now(),
    metrics: [{ name: 'bdSeq', value: args.bdSeq, type: 'UInt64' }],
  };
}
{
  const origConnect = mqtt.connect;
  mqtt.connect = function patchedConnect(url, opts) {
    if (opts && opts.will) {
      opts.will.payload = Buffer.from(spb.encodePayload(deathPayload()));
    }
    return origConnect.call(this, url, opts);
  };
}

// ------------------------------------------------------------------ metrics
// Aliases are unique across the whole edge node (node + device metrics).
// The library appends `bdSeq` (UInt64, no alias) to every NBIRTH itself.
const nodeMetrics = [
  { name: 'Node Control/Rebirth', alias: 1, type: 'Boolean', value: false },
  { name: 'Properties/Hardware Make', alias: 2, type: 'String', value: 'twinscope-test-rig' },
];

const deviceMetrics = [
  {
    name: 'Temperature', alias: 101, type: 'Double', value: 21.5,
    properties: { engUnit: { type: 'String', value: '°C' } },
  },
  { name: 'Pressure', alias: 102, type: 'Float', value: 1.25 },
  { name: 'Count', alias: 103, type: 'Int32', value: 0 },
  { name: 'Running', alias: 104, type: 'Boolean', value: true },
  { name: 'Mode', alias: 105, type: 'String', value: 'Auto' },
  { name: 'Alarms/HighTemp', alias: 106, type: 'Boolean', value: false },
  {
    // Column types String + Double: sparkplug-payload 1.0.3's own DataSet
    // *decoder* throws on Int32 columns, so stick to types it round-trips.
    name: 'Recipe', alias: 107, type: 'DataSet',
    value: {
      numOfColumns: 2,
      columns: ['Ingredient', 'Amount'],
      types: ['String', 'Double'],
      rows: [['Flour', 1.5], ['Water', 0.75]],
    },
  },
];
const deviceByName = new Map(deviceMetrics.map((m) => [m.name, m]));

function birthMetric(m, now) {
  const o = { name: m.name, type: m.type, value: m.value, timestamp: now };
  if (args.aliases) o.alias = m.alias;
  if (m.properties) o.properties = m.properties;
  return o;
}

function parseValue(m, text) {
  switch (m.type) {
    case 'Double':
    case 'Float': {
      const v = Number(text);
      if (text.trim() === '' || Number.isNaN(v)) throw new Error(`not a number: ${text}`);
      return v;
    }
    case 'Int32': {
      if (!/^-?\d+$/.test(text)) throw new Error(`not an integer: ${text}`);
      const v = Number(text);
      if (v < -2147483648 || v > 2147483647) throw new Error(`out of Int32 range: ${text}`);
      return v;
    }
    case 'Boolean':
      if (text === 'true') return true;
      if (text === 'false') return false;
      throw new Error(`not true/false: ${text}`);
    case 'String':
      return text;
    case 'DataSet': {
      // VALUE: JSON array of rows, e.g. [["Sugar",0.2],["Salt",0.01]]
      const rows = JSON.parse(text);
      if (!Array.isArray(rows) || !rows.every((r) => Array.isArray(r) && r.length === 2)) {
        throw new Error('DataSet value must be a JSON array of 2-element rows');
      }
      return { ...m.value, rows };
    }
    default:
      throw new Error(`unsupported type ${m.type}`);
  }
}

// ------------------------------------------------------------------ client
const client = sparkplugClient.newClient({
  serverUrl: args.broker,
  username: args.username,
  password: args.password,
  groupId: args.group,
  edgeNode: args.node,
  clientId: args.clientId,
  version: 'spBv1.0',
  publishDeath: args.publishDeath,
});
client.bdSeq = args.bdSeq; // used by publishNodeBirth / publishNDeath

function publishBirths() {
  const now = Date.now();
  // Fresh objects every time: the library mutates them (adds seq, and pushes
  // the bdSeq metric onto the NBIRTH metrics array).
  client.publishNodeBirth({ timestamp: now, metrics: nodeMetrics.map((m) => birthMetric(m, now)) });
  client.publishDeviceBirth(args.device, {
    timestamp: now,
    metrics: deviceMetrics.map((m) => birthMetric(m, now)),
  });
}

function publishDeviceData(m) {
  const now = Date.now();
  const metric = { type: m.type, value: m.value, timestamp: now };
  if (args.aliases) metric.alias = m.alias;
  else metric.name = m.name;
  client.publishDeviceData(args.device, { timestamp: now, metrics: [metric] });
}

// Make the next published message skip one seq number. The library's
// incrementSeqNum() is `if (seq == 256) seq = 0; return seq++;` i.e. `seq`
// holds the next value to send (256 meaning "wrap to 0"). Advancing it by one
// modulo 256 skips exactly one number. An NBIRTH resets seq to 0, so a gap
// pending when a birth is published is lost.
function bumpSeq() {
  client.seq = ((client.seq % 256) + 1) % 256;
}

let connectedOnce = false;
client.on('birth', () => {
  publishBirths();
  out(`birth bdSeq=${client.bdSeq}`);
  out('connected');
  connectedOnce = true;
});

client.on('ncmd', (payload) => {
  const metrics = payload.metrics || [];
  const rebirth = metrics.some(
    (m) => (m.name === 'Node Control/Rebirth' || (m.name === undefined && m.alias !== undefined && String(m.alias) === '1')) &&
      m.value === true
  );
  if (rebirth) {
    publishBirths();
    out('ncmd rebirth');
  } else {
    out(`ncmd ${toJson(payload)}`);
  }
});

client.on('dcmd', (device, payload) => {
  out(`dcmd ${device} ${toJson(payload)}`);
  for (const written of payload.metrics || []) {
    const m = written.name !== undefined && written.name !== null
      ? deviceByName.get(written.name)
      : deviceMetrics.find((d) => String(d.alias) === String(written.alias));
    if (!m || args.ignoreWrites.includes(m.name)) continue;
    m.value = written.value;
    publishDeviceData(m);
    out(`applied ${m.name}=${toJson(written.value)}`);
  }
});

client.on('close', () => out('closed'));
client.on('error', (e) => {
  process.stderr.write(`edge.js: mqtt error: ${e && e.message}\n`);
  process.exit(1);
});

function toJson(v) {
  return JSON.stringify(v, (k, x) => {
    if (x && typeof x === 'object' && typeof x.low === 'number' && typeof x.high === 'number' &&
        typeof x.toString === 'function' && 'unsigned' in x) return x.toString();
    if (x instanceof Uint8Array) return Buffer.from(x).toString('hex');
    return x;
  });
}

// ------------------------------------------------------------------ commands
let stopping = false;
function stop(label) {
  if (stopping) return;
  stopping = true;
  try {
    client.stop(); // NDEATH (if publishDeath) then mqtt end() -> DISCONNECT
  } catch (e) {
    process.stderr.write(`edge.js: stop failed: ${e.message}\n`);
  }
  const done = () => {
    if (label) out(`ok ${label}`);
    process.exit(0);
  };
  client.client.once('end', done);
  setTimeout(done, 2000).unref();
}

function kill() {
  const die = () => process.kill(process.pid, 'SIGKILL');
  const stream = client.client && client.client.stream;
  // Let anything already queued reach the kernel, then die without DISCONNECT.
  if (stream && stream.writableLength > 0) {
    stream.once('drain', die);
    setTimeout(die, 1000);
  } else {
    die();
  }
}

// Publishes `count` DDATA as fast as the client takes them, in slices that let the socket
// drain, then reports the rate.
function flood(cmd, count) {
  if (!Number.isInteger(count) || count <= 0) throw new Error('usage: flood N');
  const m = deviceByName.get('Temperature');
  const started = process.hrtime.bigint();
  let sent = 0;
  const slice = () => {
    const end = Math.min(count, sent + 500);
    for (; sent < end; sent++) {
      m.value = 20 + (sent % 1000) / 10;
      publishDeviceData(m);
    }
    const stream = client.client && client.client.stream;
    const next = sent < count ? slice : finish;
    if (stream && stream.writableLength > 0) stream.once('drain', () => setImmediate(next));
    else setImmediate(next);
  };
  const finish = () => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    out(`ok ${cmd} ${seconds.toFixed(3)} ${(count / seconds).toFixed(0)}`);
  };
  slice();
}

function handle(line) {
  const cmd = line.trim();
  if (cmd === '') return;
  const sp = cmd.indexOf(' ');
  const verb = sp < 0 ? cmd : cmd.slice(0, sp);
  const rest = sp < 0 ? '' : cmd.slice(sp + 1);
  try {
    if (!connectedOnce && verb !== 'stop' && verb !== 'kill') throw new Error('not connected yet');
    switch (verb) {
      case 'data': {
        const sp2 = rest.indexOf(' ');
        if (sp2 < 0) throw new Error('usage: data NAME VALUE');
        const name = rest.slice(0, sp2);
        const m = deviceByName.get(name);
        if (!m) throw new Error(`unknown device metric ${name}`);
        m.value = parseValue(m, rest.slice(sp2 + 1));
        publishDeviceData(m);
        break;
      }
      case 'flood':
        flood(cmd, Number(rest));
        return;
      case 'gap':
        bumpSeq();
        break;
      case 'rebirth':
        publishBirths();
        break;
      case 'kill':
        out(`ok ${cmd}`);
        kill();
        return;
      case 'stop':
        stop(cmd);
        return;
      default:
        throw new Error(`unknown command ${verb}`);
    }
    out(`ok ${cmd}`);
  } catch (e) {
    out(`err ${cmd}: ${e.message}`);
  }
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on('line', handle);
rl.on('close', () => stop(null));
