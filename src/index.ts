// sockunit's library surface:
//   import { listenFds, listen, notify } from 'sockunit';   // the service side of socket activation
//   import { mptcp } from 'sockunit';                        // Multipath TCP for any Node program
// Subpaths: 'sockunit/mptcp', 'sockunit/activation'.

export * from './activation/index.js';
export * as mptcp from './mptcp/index.js';
