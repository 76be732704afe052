/**
 * The simulator earns its keep only if it catches real bugs: each deliberately broken engine
 * (variants.ts, patched in for one run at a time) must make it fail within a few seeds.
 * Serial: the variants patch shared prototypes.
 */
import test from 'ava';
import { describeFailure, runCampaign } from './campaign.js';
import { ENGINE_VARIANTS, type EngineVariant } from './variants.js';

/** Seeds 1..this; every variant is caught within the first dozen today. */
const SEEDS_MAX = 200;

/** The invariant each variant must trip: the failure message names it. */
const EXPECTED_VIOLATION: Readonly<Record<string, RegExp>> = {
  'flush-ignores-lower-objects': /a FLUSH .* was answered, but log object "[0-9a-f]{16}" is not in the bucket|never held at or after the last FLUSH/,
  'precondition-means-success': /a FLUSH .* was answered, but "[^"]+" in the bucket holds other bytes than it sent/,
  'zero-ranges-after-entries': /after recovery, process \d+ reads unit \d+ .* but the bucket's objects 1\.\.\d+ say/,
  'overwriting-puts': /was overwritten with different bytes/,
  'holes-left-unwritten': /read-your-writes: op #\d+ read .* reads garbage/,
};

async function firstFailure(variant: EngineVariant): Promise<{ seed: number; message: string } | undefined> {
  const totals = await runCampaign({ firstSeed: 1, seedCount: SEEDS_MAX, variant });
  const failure = totals.failures[0];
  return failure === undefined ? undefined : { seed: failure.seed, message: describeFailure(failure, { variant }) };
}

for (const variant of ENGINE_VARIANTS) {
  test.serial(`the simulator catches an engine where ${variant.description}, within ${SEEDS_MAX} seeds`, async (t) => {
    const failure = await firstFailure(variant);
    if (failure === undefined) {
      t.fail(`no seed of 1..${SEEDS_MAX} failed with the "${variant.name}" engine`);
      return;
    }
    t.log(failure.message);
    t.regex(failure.message, EXPECTED_VIOLATION[variant.name] ?? /./);
  });
}

test.serial('the correct engine passes the seeds that catch every broken one', async (t) => {
  const totals = await runCampaign({ firstSeed: 1, seedCount: 30 });
  const failure = totals.failures[0];
  t.is(failure, undefined, failure === undefined ? undefined : describeFailure(failure));
});
