// An HTTP GET over Multipath TCP with sockunit's agent. Start `npx sockunit run examples/units`
// first; hello.service then answers that this connection runs Multipath TCP.
//
//   node examples/mptcp-get.mjs [URL]
import http from 'node:http';
import { mptcp } from 'sockunit';

const url = process.argv[2] ?? 'http://127.0.0.1:8080/';
const agent = new mptcp.Agent();
http
  .get(url, { agent }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (text) => process.stdout.write(text));
    res.on('end', () => agent.destroy());
  })
  .on('error', (err) => {
    console.error(`GET ${url} failed: ${err.message}`);
    process.exitCode = 1;
  });
