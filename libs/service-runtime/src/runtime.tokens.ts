/** Injection tokens the runtime provides to every service module. */
export const KAFKA = Symbol('kairos.kafka');
export const SERVICE_NAME = Symbol('kairos.service-name');
/** The service's consumer group id (KAFKA_GROUP_ID, or kairos-<service>). */
export const CONSUMER_GROUP = Symbol('kairos.consumer-group');
