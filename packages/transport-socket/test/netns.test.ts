import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMember, type MemberProcess } from './member-process.js';
import { preloadSocketTransport } from './preload-socket.js';

/**
 * Two hosts on one machine: network namespaces joined by a veth pair. Needs root and iproute2
 * (Debian's `iproute2`); the test builds the namespaces itself and removes them afterwards, and
 * uses only addresses inside them (10.213.<n>.1 and .2, a multicast group on the veth).
 */
const tag = `${process.pid % 10_000}`;
const nsA = `bwA${tag}`;
const nsB = `bwB${tag}`;
const subnet = `10.213.${process.pid % 250}`;
const addrA = `${subnet}.1`;
const addrB = `${subnet}.2`;
const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });
const children: MemberProcess[] = [];

beforeAll(() => {
  ip('netns', 'add', nsA);
  ip('netns', 'add', nsB);
  ip('link', 'add', `ve${tag}a`, 'type', 'veth', 'peer', 'name', `ve${tag}b`);
  ip('link', 'set', `ve${tag}a`, 'netns', nsA);
  ip('link', 'set', `ve${tag}b`, 'netns', nsB);
  ip('-n', nsA, 'addr', 'add', `${addrA}/24`, 'dev', `ve${tag}a`);
  ip('-n', nsB, 'addr', 'add', `${addrB}/24`, 'dev', `ve${tag}b`);
  for (const [ns, dev] of [
    [nsA, `ve${tag}a`],
    [nsB, `ve${tag}b`],
  ] as const) {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'link', 'set', dev, 'up');
  }
});

afterAll(() => {
  for (const m of children) m.child.kill('SIGKILL');
  // Deleting a namespace deletes the veth end inside it, and with it the pair.
  for (const ns of [nsA, nsB]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // already gone
    }
  }
});

/** Run fixtures/probe.mjs inside `ns` and parse its JSON verdict. */
function probe(
  ns: string,
  url: string,
  options: Record<string, unknown>,
): Promise<{ ok: boolean; echo?: { pid: number }; pong?: number[]; error?: string }> {
  preloadSocketTransport();
  const script = fileURLToPath(new URL('./fixtures/probe.mjs', import.meta.url));
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, script, url, JSON.stringify(options)], {
    env: process.env,
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`probe timed out: ${out} ${err}`));
    }, 25_000);
    child.once('exit', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as never);
      } catch {
        reject(new Error(`probe printed no verdict: ${out} ${err}`));
      }
    });
  });
}

describe('across two network namespaces joined by a veth pair', () => {
  it('carries pub/sub and request/reply over tcp:// with the hub in the other namespace', async () => {
    const url = `tcp://${addrA}:7411`;
    const member = startMember(url, {}, ['ip', 'netns', 'exec', nsA]);
    children.push(member);
    await member.ready;
    // In nsB the hub's address is not local (EADDRNOTAVAIL), so this member connects.
    const verdict = await probe(nsB, url, {});
    console.log('tcp probe', JSON.stringify(verdict));
    expect(verdict.error).toBeUndefined();
    expect(verdict.ok).toBe(true);
    expect(verdict.echo?.pid).toBe(member.child.pid); // ip netns exec execs node: same pid
    expect(verdict.pong).toEqual([0, 1, 2]);
    member.child.kill('SIGKILL');
  });

  it('carries pub/sub and request/reply over udp:// multicast on the veth', async () => {
    const url = 'udp://239.255.31.7:7412';
    const member = startMember(url, { interface: addrA, secret: 'netns' }, ['ip', 'netns', 'exec', nsA]);
    children.push(member);
    await member.ready;
    const verdict = await probe(nsB, url, { interface: addrB, secret: 'netns' });
    expect(verdict.error).toBeUndefined();
    expect(verdict.ok).toBe(true);
    expect(verdict.echo?.pid).toBe(member.child.pid);
    expect(verdict.pong).toEqual([0, 1, 2]);
    member.child.kill('SIGKILL');
  });
});
