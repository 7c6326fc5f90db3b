// The fallback path for real: a network namespace with net.mptcp.enabled=0, where socket(…,
// IPPROTO_MPTCP) fails with ENOPROTOOPT. A child Node process runs inside it and reports what
// sockunit did: plain TCP, said out loud ('fallback' events, fallbackReason()), and `fallback:
// false` refused.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { available, noMptcpReason } from '../src/mptcp/probe.js';
import { builtModule, Netns, netnsUnavailable } from './fixtures/mptcp/netns.js';

describe('MPTCP availability', { timeout: 30_000 }, () => {
  test('available() here (net.mptcp.enabled=1) says yes, and is cached', () => {
    assert.deepEqual(available(), { available: true });
    assert.deepEqual(available(), { available: true });
    assert.deepEqual(available({ refresh: true }), { available: true });
  });

  test('every fallback errno has a reason; real errors have none', () => {
    for (const code of ['ENOPROTOOPT', 'EPROTONOSUPPORT', 'EINVAL', 'EACCES', 'EPERM'])
      assert.ok(noMptcpReason(code), code);
    for (const code of ['EMFILE', 'ENOBUFS', 'ENOMEM']) assert.equal(noMptcpReason(code), undefined, code);
  });

  test('with net.mptcp.enabled=0 (network namespace): plain TCP, visibly; fallback:false throws', async (t) => {
    const why = netnsUnavailable();
    if (why) return t.skip(why);
    const ns = new Netns('fallback');
    try {
      ns.exec('sysctl', '-qw', 'net.mptcp.enabled=0');
      const out = await ns.runNode(`
        import * as mptcp from ${JSON.stringify(builtModule('mptcp/index.js'))};
        const out = { available: mptcp.available() };
        const strict = (fn) => { try { fn(); return 'no error'; } catch (e) { return { code: e.code, message: e.message }; } };
        const server = mptcp.createServer((s) => { out.serverSideMultipath = mptcp.isMultipath(s); s.pipe(s); });
        server.on('fallback', (why) => { out.serverFallbackEvent = why; });
        server.listen(0, '127.0.0.1', () => {
          out.serverFallbackReason = mptcp.fallbackReason(server);
          out.listenerMultipath = mptcp.isMultipath(server);
          const port = server.address().port;
          const c = mptcp.connect(port, 'localhost');
          c.on('fallback', (why) => { out.clientFallbackEvent = why; });
          c.on('connect', () => c.write('hi'));
          c.on('data', (d) => {
            out.echo = String(d);
            out.clientMultipath = mptcp.isMultipath(c);
            out.clientFallbackReason = mptcp.fallbackReason(c);
            out.strictConnect = strict(() => mptcp.connect({ port, host: '127.0.0.1', fallback: false }));
            out.strictListen = strict(() => mptcp.createServer({ fallback: false }).listen(0));
            out.strictListenOption = strict(() => mptcp.createServer().listen({ port: 0, fallback: false }));
            console.log(JSON.stringify(out));
            c.destroy();
            server.close();
          });
        });`);
      const r = JSON.parse(out);
      const expected = {
        available: false,
        errno: 'ENOPROTOOPT',
        reason: 'MPTCP is disabled in this network namespace (sysctl net.mptcp.enabled=0)',
      };
      assert.deepEqual(r.available, expected);
      assert.deepEqual(r.serverFallbackEvent, expected);
      assert.deepEqual(r.serverFallbackReason, expected);
      assert.deepEqual(r.clientFallbackEvent, expected);
      assert.deepEqual(r.clientFallbackReason, expected);
      assert.equal(r.echo, 'hi', 'plain TCP still carries the data');
      assert.equal(r.listenerMultipath, false);
      assert.equal(r.serverSideMultipath, false);
      assert.equal(r.clientMultipath, false);
      for (const key of ['strictConnect', 'strictListen', 'strictListenOption']) {
        assert.equal(r[key].code, 'ERR_MPTCP_UNAVAILABLE', key);
        assert.match(r[key].message, /net\.mptcp\.enabled=0/, key);
      }
    } finally {
      ns.delete();
    }
  });
});
