import { Topics } from '@kairos/contracts';
import { connectKafka, endOffsets } from '@kairos/kafka';
import { expectServiceLifecycle, testStack } from '@kairos/testing';
import { startDispatch } from './main';

describe('the dispatch service', () => {
  it('starts against the real stack, reports ready with metrics, and stops gracefully', async () => {
    // A group of its own that starts at the end of the shared requests topic: the lifecycle is under test, not the
    // sending of every earlier test's requests (which the graceful stop then waits for).
    const groupId = `dispatch-lifecycle-${Date.now()}`;
    const kafka = connectKafka({ brokers: testStack().kafkaBrokers, clientId: 'dispatch-lifecycle', logLevel: 'error' });
    const ends = await endOffsets(kafka, Topics.dispatchRequests.name);
    const admin = kafka.admin();
    await admin.connect();
    await admin.setOffsets({ groupId, topic: Topics.dispatchRequests.name, partitions: [...ends].map(([partition, end]) => ({ partition, offset: end.toString() })) });
    await admin.disconnect();
    await expectServiceLifecycle((env) => startDispatch({ ...env, KAFKA_GROUP_ID: groupId }));
  });
});
