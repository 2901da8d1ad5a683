// Benchmarks and fault tests start service processes the same way.
export { startServiceProcess } from '@kairos/testing';
export type { ServiceProcess } from '@kairos/testing';
