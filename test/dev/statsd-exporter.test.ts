import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { describe, it } from 'node:test';
import { exporter, parsePrometheusText, scrape, waitForSample } from '../support/statsd.js';
import { randomSuffix } from '../support/kafka.js';

function sendUdp(lines: string[]): Promise<void> {
  const { host, port } = exporter();
  const sock = createSocket('udp4');
  return new Promise<void>((res, rej) => {
    sock.send(lines.join('\n'), port, host, (err) => (err ? rej(err) : res()));
  }).finally(() => sock.close());
}

describe('suite statsd_exporter', () => {
  it('turns DogStatsD tags on a counter into Prometheus labels', async () => {
    const name = `md_test_${randomSuffix()}`;
    await sendUdp([`${name}.placed:1|c|#market:FR,platform:ios`]);
    await sendUdp([`${name}.placed:2|c|#market:FR,platform:ios`, `${name}.placed:5|c|#market:GB,platform:android`]);

    const fr = await waitForSample((s) => s.name === `${name}_placed` && s.labels.market === 'FR' && s.value === 3);
    assert.deepEqual(fr.labels, { market: 'FR', platform: 'ios' });
    const samples = (await scrape()).filter((s) => s.name === `${name}_placed`);
    assert.deepEqual(
      samples.map((s) => [s.labels.market, s.labels.platform, s.value]).sort(),
      [['FR', 'ios', 3], ['GB', 'android', 5]],
    );
  });

  it('reports a tagged timer as a summary with the tag as label', async () => {
    const name = `md_timer_${randomSuffix()}`;
    await sendUdp([`${name}:12|ms|#route:checkout`]);
    const count = await waitForSample((s) => s.name === `${name}_count` && s.labels.route === 'checkout');
    assert.equal(count.value, 1);
  });

  it('parses label escapes in the Prometheus text format', () => {
    const parsed = parsePrometheusText('# HELP x y\nm{a="q\\"u",b="back\\\\slash",c="n\\nl"} 2.5 1700000000\nplain 1\ninf +Inf\n');
    assert.deepEqual(parsed, [
      { name: 'm', labels: { a: 'q"u', b: 'back\\slash', c: 'n\nl' }, value: 2.5 },
      { name: 'plain', labels: {}, value: 1 },
      { name: 'inf', labels: {}, value: Infinity },
    ]);
  });
});
