// The service of hello.service. Started by sockunit on the first connection to hello.socket; when
// run by hand (no LISTEN_FDS), it listens on port 8080 itself, as plain TCP.
import http from 'node:http';
import { listen, mptcp } from 'sockunit';

const greeting = process.env.GREETING ?? 'Hello';

const server = http.createServer((req, res) => {
  const runsMptcp = mptcp.runsMptcp(req.socket);
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end(
    `${greeting} from pid ${process.pid}.\n` +
      `You reached ${req.socket.localAddress} port ${req.socket.localPort} from ${req.socket.remoteAddress}.\n` +
      `This connection ${runsMptcp ? 'runs Multipath TCP' : 'is plain TCP (your client did not ask for MPTCP, or something on the way removed it)'}.\n`,
  );
});

const result = await listen(server, 'http', { fallback: 8080 });
if (result.activated) {
  const { fd, name, description } = result.listenFd;
  const protocol = description.kind === 'socket' ? description.protocol : description.kind;
  console.log(`serving on the activated socket '${name}' (fd ${fd}, ${protocol})`);
} else {
  console.log('not activated: listening on port 8080 as plain TCP');
}
