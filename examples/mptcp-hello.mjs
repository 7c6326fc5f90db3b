// Serve and connect over Multipath TCP on loopback, then print what the kernel says about the
// connection: does it run MPTCP, does it use several paths now, its subflows, and the bytes MPTCP
// moved.
//
//   node examples/mptcp-hello.mjs        (after `npm install`)
import { mptcp } from 'sockunit';

const PAYLOAD_BYTES = 1024 * 1024;

const availability = mptcp.available();
console.log(
  availability.available
    ? 'MPTCP is available in this network namespace.'
    : `MPTCP is NOT available (${availability.errno}): ${availability.reason}. Falling back to plain TCP.`,
);

const server = mptcp.createServer((socket) => {
  console.log(`server: accepted ${socket.remoteAddress}, runs MPTCP: ${mptcp.runsMptcp(socket)}`);
  socket.pipe(socket); // echo
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  console.log(`server: listening on 127.0.0.1:${port}`);
  const client = mptcp.connect(port, 'localhost', () => {
    console.log(`client: connected to ${client.remoteAddress}:${client.remotePort}`);
    client.write(Buffer.alloc(PAYLOAD_BYTES, 0x61));
  });
  let received = 0;
  client.on('data', (chunk) => {
    received += chunk.length;
    if (received < PAYLOAD_BYTES) return;
    console.log(
      `client: echoed ${received} bytes back; runs MPTCP: ${mptcp.runsMptcp(client)}, several paths now: ${mptcp.usesSeveralPaths(client)}`,
    );
    const info = mptcp.info(client);
    if (info) {
      console.log(
        `client: MPTCP_INFO says bytes sent ${info.bytesSent}, received ${info.bytesReceived}, ` +
          `acked ${info.bytesAcked}; subflows in total: ${info.subflowsTotal ?? info.subflows + 1}`,
      );
      for (const s of mptcp.subflows(client)) {
        const tcp = s.tcp ? `${s.tcp.state}, rtt ${s.tcp.rttUs} µs` : 'no tcp_info';
        console.log(
          `  subflow ${s.id ?? '?'}: ${s.local?.address}:${s.local?.port} -> ${s.remote?.address}:${s.remote?.port} (${tcp})`,
        );
      }
    }
    client.end();
    server.close();
  });
  client.on('error', (err) => {
    console.error(`client error: ${err.message}`);
    process.exitCode = 1;
    server.close();
  });
});
