// The web server: takes its MPTCP listener from the manager (listen()), and answers each request
// with what the backend says and whether the client's connection runs Multipath TCP.
import http from 'node:http';
import { listen, mptcp } from 'sockunit';

const server = http.createServer(async (req, res) => {
  let backend;
  try {
    backend = await (await fetch('http://127.0.0.1:8082/')).text();
  } catch (err) {
    backend = `backend unreachable (${err.message})\n`;
  }
  res.end(`web: ${mptcp.runsMptcp(req.socket) ? 'Multipath TCP' : 'plain TCP'}; ${backend}`);
});

await listen(server, 'http', { fallback: 8081 });
