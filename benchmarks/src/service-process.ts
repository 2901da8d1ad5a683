import { readFileSync } from 'node:fs';

// Benchmarks and fault tests start service processes the same way.
export { startServiceProcess } from '@kairos/testing';
export type { ServiceProcess } from '@kairos/testing';

/** CPU seconds (user + system) a process has used so far; NaN once it is gone (a figure from it is then no figure). */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // after the command name, which may hold ") "
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds the whole machine has been busy so far (every core; idle, I/O wait and steal left out). */
export function machineBusySeconds(): number {
  const [, user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  return (user + nice + system + irq + softirq) / 100;
}
