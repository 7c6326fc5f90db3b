// The client half of examples/multipath-demo.sh: an HTTP GET over Multipath TCP, then the
// connection's subflows as the kernel lists them. Extra subflows join only after the first data
// has been exchanged, so it keeps the connection open (keep-alive) for up to 3 s until they show.
//
//   node examples/multipath-demo-client.mjs [URL]
import http from 'node:http';
import { mptcp } from 'sockunit';

const url = process.argv[2] ?? 'http://10.0.1.2:8080/';
const agent = new mptcp.Agent({ keepAlive: true });

function describe(subflow) {
  const local = subflow.local ? `${subflow.local.address}:${subflow.local.port}` : '?';
  const remote = subflow.remote ? `${subflow.remote.address}:${subflow.remote.port}` : '?';
  return `  subflow ${subflow.id ?? '?'}: ${local} -> ${remote} ${subflow.tcp?.state ?? ''}`;
}

http
  .get(url, { agent }, (res) => {
    // Kept now: with keep-alive the agent takes the socket back (res.socket = null) at 'end'.
    const socket = res.socket;
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (text) => {
      body += text;
    });
    res.on('end', async () => {
      process.stdout.write(body);
      let subflows = [];
      for (let i = 0; i < 30; i++) {
        subflows = mptcp.runsMptcp(socket) ? mptcp.subflows(socket) : [];
        if (subflows.length >= 2) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      console.log(`This connection has ${subflows.length} subflow${subflows.length === 1 ? '' : 's'}:`);
      for (const s of subflows) console.log(describe(s));
      agent.destroy();
    });
  })
  .on('error', (err) => {
    console.error(`GET ${url} failed: ${err.message}`);
    process.exitCode = 1;
  });
