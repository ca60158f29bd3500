import { afterEach, describe, expect, it } from 'vitest';
import { encodeEnvelope, FrameKind, peekOrigin, peekTopic, readEnvelope } from '../src/envelope.js';
import { MemoryTransport } from '../src/memory-transport.js';

let counter = 0;
const open: MemoryTransport[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function member(name: string, memberId: number): Promise<MemoryTransport> {
  const transport = new MemoryTransport(new URL(`memory://${name}`), { memberId, maxFrameSize: 1 << 20, options: {} });
  await transport.open();
  open.push(transport);
  return transport;
}

function frame(kind: FrameKind, origin: number, topic: string, sequence = 0, payload?: Uint8Array): Uint8Array {
  return encodeEnvelope({ kind, origin, sequence, topic, payload });
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('memory transport batches', () => {
  it('routes frames sent while a batch is routed in the same batch, in order, each once', async () => {
    counter += 1;
    const name = `batches-${counter}`;
    const [sender, echo, sink] = await Promise.all([member(name, 1), member(name, 2), member(name, 3)]);
    echo.send(frame(FrameKind.Subscribe, 2, 'in'));
    sink.send(frame(FrameKind.Subscribe, 3, 'out'));
    await tick();
    // The echo answers each frame at once, from inside the batch that delivered it.
    echo.frames$.subscribe((f) => {
      const n = readEnvelope(f.bytes, 1 << 20).sequence;
      echo.send(frame(FrameKind.Publish, 2, 'out', n));
    });
    const seen: string[] = [];
    let seenWithinBatch = 0;
    sink.frames$.subscribe((f) => seen.push(`${peekTopic(f.bytes)}:${readEnvelope(f.bytes, 1 << 20).sequence}`));
    for (let n = 1; n <= 5; n += 1) sender.send(frame(FrameKind.Publish, 1, 'in', n));
    // All of it within one microtask batch: done before a promise queued now settles.
    await Promise.resolve().then(() => (seenWithinBatch = seen.length));
    expect(seenWithinBatch).toBe(5);
    expect(seen).toEqual(['out:1', 'out:2', 'out:3', 'out:4', 'out:5']);
  });

  it('a member closing inside a batch leaves at its end: every member gets each sender’s frames in order, once', async () => {
    counter += 1;
    const name = `close-midway-${counter}`;
    const [sender, closer, sink] = await Promise.all([member(name, 1), member(name, 2), member(name, 3)]);
    closer.send(frame(FrameKind.Subscribe, 2, 'in'));
    sink.send(frame(FrameKind.Subscribe, 3, 'in'));
    sink.send(frame(FrameKind.Subscribe, 3, 'out'));
    await tick();
    // On the third frame the closer sends two frames and closes, from inside the batch being
    // routed, before the sink has had that frame.
    closer.frames$.subscribe((f) => {
      const n = readEnvelope(f.bytes, 1 << 20).sequence;
      if (n !== 3) return;
      closer.send(frame(FrameKind.Publish, 2, 'out', 30));
      closer.send(frame(FrameKind.Publish, 2, 'out', 31));
      void closer.close();
    });
    const seen: string[] = [];
    sink.frames$.subscribe((f) =>
      seen.push(`${peekOrigin(f.bytes)}:${peekTopic(f.bytes)}:${readEnvelope(f.bytes, 1 << 20).sequence}`),
    );
    sender.send(frame(FrameKind.Subscribe, 1, 'out'));
    for (let n = 1; n <= 5; n += 1) sender.send(frame(FrameKind.Publish, 1, 'in', n));
    sink.send(frame(FrameKind.Publish, 3, 'out', 99)); // queued after them all, to the sender
    await tick();
    // The sink had the sender's frames in their order, then the closer's two, then its Leave (the
    // router's, in its name), once each.
    expect(seen).toEqual(['1:in:1', '1:in:2', '1:in:3', '1:in:4', '1:in:5', '2:out:30', '2:out:31', '2:_LEAVE:0']);
  });
});
