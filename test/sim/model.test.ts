import test from 'ava';
import { VolumeModel } from './model.js';

/** A model of 4 units and a helper to run a mutation from send to answer. */
function model4(): { model: VolumeModel; mutate: (options: { unit: number; value: number; fua?: boolean }) => ReturnType<VolumeModel['issue']> } {
  const model = new VolumeModel({ unitCount: 4 });
  let opId = 0;
  return {
    model,
    mutate: ({ unit, value, fua = false }) => model.issue({ opId: ++opId, value, firstUnit: unit, unitCount: 1, fua }),
  };
}

test('an image made of the writes applied up to one moment is a consistent point', (t) => {
  const { model, mutate } = model4();
  const a = mutate({ unit: 0, value: 1 });
  model.acknowledge(a);
  const b = mutate({ unit: 1, value: 2 });
  model.acknowledge(b);
  t.is(model.checkImage(Uint32Array.of(1, 0, 0, 0), { durable: false }), undefined);
  t.is(model.checkImage(Uint32Array.of(1, 2, 0, 0), { durable: false }), undefined);
  t.is(model.checkImage(Uint32Array.of(0, 0, 0, 0), { durable: false }), undefined);
});

test('an image holding a later write without an earlier one that was answered before it was sent is not a consistent point', (t) => {
  const { model, mutate } = model4();
  const a = mutate({ unit: 0, value: 1 });
  model.acknowledge(a);
  const b = mutate({ unit: 1, value: 2 });
  model.acknowledge(b);
  t.regex(model.checkImage(Uint32Array.of(0, 2, 0, 0), { durable: false }) ?? '', /no single moment explains the image/);
});

test('two writes in flight at once may land in either order', (t) => {
  const { model, mutate } = model4();
  const a = mutate({ unit: 0, value: 1 });
  const b = mutate({ unit: 1, value: 2 });
  model.acknowledge(b);
  model.acknowledge(a);
  t.is(model.checkImage(Uint32Array.of(0, 2, 0, 0), { durable: false }), undefined);
  t.is(model.checkImage(Uint32Array.of(1, 0, 0, 0), { durable: false }), undefined);
});

test('after a FLUSH, an image without a write answered before it is refused as durable', (t) => {
  const { model, mutate } = model4();
  const a = mutate({ unit: 0, value: 1 });
  model.acknowledge(a);
  model.flushed(model.tick());
  t.is(model.checkImage(Uint32Array.of(0, 0, 0, 0), { durable: false }), undefined);
  t.regex(model.checkImage(Uint32Array.of(0, 0, 0, 0), { durable: true }) ?? '', /never held at or after the last FLUSH\/FUA/);
  t.is(model.checkImage(Uint32Array.of(1, 0, 0, 0), { durable: true }), undefined);
});

test('an answered FUA write and every write answered before it was sent are durable', (t) => {
  const { model, mutate } = model4();
  const a = mutate({ unit: 0, value: 1 });
  model.acknowledge(a);
  const fua = mutate({ unit: 1, value: 2, fua: true });
  model.acknowledge(fua);
  t.regex(model.checkImage(Uint32Array.of(1, 0, 0, 0), { durable: true }) ?? '', /never held/);
  t.regex(model.checkImage(Uint32Array.of(0, 2, 0, 0), { durable: true }) ?? '', /never held/);
  t.is(model.checkImage(Uint32Array.of(1, 2, 0, 0), { durable: true }), undefined);
});

test('a read concurrent with a write may see the old or the new data, a later read only the new', (t) => {
  const { model, mutate } = model4();
  const readSentBefore = model.tick();
  const a = mutate({ unit: 2, value: 5 });
  t.is(model.checkRead({ issueTick: readSentBefore, firstUnit: 2, values: Uint32Array.of(0) }), undefined);
  t.is(model.checkRead({ issueTick: readSentBefore, firstUnit: 2, values: Uint32Array.of(5) }), undefined);
  model.acknowledge(a);
  const readSentAfter = model.tick();
  t.regex(model.checkRead({ issueTick: readSentAfter, firstUnit: 2, values: Uint32Array.of(0) }) ?? '', /reads zeros; it may hold only write 5/);
  t.is(model.checkRead({ issueTick: readSentAfter, firstUnit: 2, values: Uint32Array.of(5) }), undefined);
});

test('a write that failed may or may not have applied, until the next write of the unit is answered', (t) => {
  const { model, mutate } = model4();
  const failed = mutate({ unit: 3, value: 8 });
  model.fail(failed);
  const sent = model.tick();
  t.is(model.checkRead({ issueTick: sent, firstUnit: 3, values: Uint32Array.of(8) }), undefined);
  t.is(model.checkRead({ issueTick: sent, firstUnit: 3, values: Uint32Array.of(0) }), undefined);
  model.acknowledge(mutate({ unit: 3, value: 9 }));
  t.regex(model.checkRead({ issueTick: model.tick(), firstUnit: 3, values: Uint32Array.of(8) }) ?? '', /may hold only write 9/);
});
