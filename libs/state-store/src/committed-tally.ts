import type { Attributes, Counter } from '@opentelemetry/api';
import type { Output } from './stateful-processor';

/**
 * Labels for some of a transaction's outputs (a segment change, a journey outcome), counted once the transaction has
 * committed (StatefulProcessorOptions.committed): a batch retried while the database is down counts once.
 */
export class CommittedTally<L extends Attributes> {
  private readonly labels = new WeakMap<Output, L>();

  constructor(private readonly counter: () => Counter) {}

  mark(output: Output, labels: L): Output {
    this.labels.set(output, labels);
    return output;
  }

  count(outputs: readonly Output[]): void {
    const counter = this.counter();
    for (const output of outputs) {
      const labels = this.labels.get(output);
      if (labels) counter.add(1, labels);
    }
  }
}
