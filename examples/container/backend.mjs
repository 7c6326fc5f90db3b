// The backend: answers on 127.0.0.1:8082 with the time it has been up, and sends READY=1 once it
// listens (Type=notify), so web.service, ordered After= it, starts only then.
import http from 'node:http';
import { notify } from 'sockunit';

const started = Date.now();
const server = http.createServer((_req, res) => {
  res.end(`backend up ${Math.round((Date.now() - started) / 1000)} s\n`);
});
server.listen(8082, '127.0.0.1', () => {
  notify({ READY: 1, STATUS: 'answering on 127.0.0.1:8082' });
});
