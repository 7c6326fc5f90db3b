// The README's library example: an HTTP server on the socket it was activated with, or on port
// 8080 when started by hand. Try it with the README's activate line:
//
//   npx sockunit activate -l 8080 --protocol=mptcp -- node examples/activated-server.mjs
//   node examples/mptcp-get.mjs            # in another terminal: hi
import http from 'node:http';
import { listen, listenFds, notify } from 'sockunit';

const server = http.createServer((_req, res) => res.end('hi\n'));
// The activated stream listener named 'http' (FileDescriptorName=), or port 8080 when the process
// was started by hand. The socket stays what the manager made: MPTCP stays MPTCP, and the unit's
// backlog is kept.
await listen(server, 'http', { fallback: 8080 });
notify({ READY: 1, STATUS: 'serving' }); // false, not an error, when there is no NOTIFY_SOCKET

for (const { fd, name, description } of listenFds()) console.log(fd, name, description);
