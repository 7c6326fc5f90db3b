// sockunit's MPTCP API, shaped like Node's `net` so switching is a change of import:
//   import { mptcp } from 'sockunit';           // or: import * as mptcp from 'sockunit/mptcp'
//   const server = mptcp.createServer(onConnection).listen(8080);
//   const socket = mptcp.connect(8080, 'example.net');
//   mptcp.runsMptcp(socket); mptcp.usesSeveralPaths(socket); mptcp.protocolOf(socket);
//   mptcp.info(socket); mptcp.subflows(socket);

export {
  Agent,
  HttpsAgent,
  type UndiciConnectOptions,
  type UndiciConnector,
  undiciConnector,
} from './agent.js';
export { type ConnectionProtocol, PROTOCOL_MEANING, protocolOf } from './classify.js';
export { connect, createConnection, type MptcpConnectOptions } from './connect.js';
export { fallbackReason } from './fallback.js';
export {
  info,
  type MptcpInfo,
  type Subflow,
  type SubflowAddress,
  type SubflowTcpInfo,
  subflows,
  usesSeveralPaths,
} from './info.js';
export { isMultipath, runsMptcp } from './multipath.js';
export { type Availability, available } from './probe.js';
export {
  createServer,
  listen,
  type MptcpListenOptions,
  type MptcpServerOptions,
  patchServer,
} from './server.js';
