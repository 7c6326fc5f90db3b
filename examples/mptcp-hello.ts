// Serve and connect over Multipath TCP on loopback, then print what the kernel says about the
// connection: is it multipath, its subflows, and the bytes MPTCP moved.
//
//   npx tsc -p tsconfig.test.json && node .test-build/examples/mptcp-hello.js
//
// In your own code the import is `import { mptcp } from 'sockunit'` (or `sockunit/mptcp`).

import type net from 'node:net';
import * as mptcp from '../src/mptcp/index.js';

const PAYLOAD_BYTES = 1024 * 1024;

function describeSubflows(socket: net.Socket): string[] {
  return mptcp.subflows(socket).map((s) => {
    const ends = `${s.local?.address}:${s.local?.port} -> ${s.remote?.address}:${s.remote?.port}`;
    const tcp = s.tcp
      ? `${s.tcp.state}, rtt ${s.tcp.rttUs} µs, ${s.tcp.bytesSent ?? '?'} B sent`
      : 'no tcp_info';
    return `  subflow ${s.id ?? '?'}: ${ends} (${tcp})`;
  });
}

function main(): void {
  const availability = mptcp.available();
  console.log(
    availability.available
      ? 'MPTCP is available in this network namespace.'
      : `MPTCP is NOT available (${availability.errno}): ${availability.reason}. Falling back to plain TCP.`,
  );

  const server = mptcp.createServer((socket) => {
    console.log(`server: accepted ${socket.remoteAddress}, multipath: ${mptcp.isMultipath(socket)}`);
    socket.pipe(socket); // echo
  });
  server.on('error', (err) => {
    console.error(`server error: ${err.message}`);
    process.exitCode = 1;
  });

  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as net.AddressInfo;
    console.log(`server: listening on 127.0.0.1:${port} (MPTCP listener: ${mptcp.isMultipath(server)})`);
    const client = mptcp.connect(port, 'localhost', () => {
      console.log(`client: connected to ${client.remoteAddress}:${client.remotePort}`);
      client.write(Buffer.alloc(PAYLOAD_BYTES, 0x61));
    });
    let received = 0;
    client.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received < PAYLOAD_BYTES) return;
      const info = mptcp.info(client);
      console.log(`client: multipath: ${mptcp.isMultipath(client)}`);
      if (info) {
        console.log(
          `client: MPTCP bytes sent ${info.bytesSent}, received ${info.bytesReceived}, acked ${info.bytesAcked}; ` +
            `subflows in total: ${info.subflowsTotal ?? info.subflows + 1}`,
        );
        for (const line of describeSubflows(client)) console.log(line);
      } else {
        console.log(
          `client: not running MPTCP (${mptcp.fallbackReason(client)?.reason ?? 'the peer did not accept MPTCP'})`,
        );
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
}

main();
