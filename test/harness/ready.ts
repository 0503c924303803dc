import { completeAmong, listSettled } from '../../transports/completeness.js';
import type { Clock, Completeness, RemoteEntry, Transport } from '../../transports/types.js';

/**
 * The files of one folder a feed would take under `completeness`, read through `transport` as fetch
 * reads them (listSettled, then completeAmong), waiting on `clock`: for the tests of what each
 * transport's listings give the completeness rules (sizes, times, markers).
 */
export async function readyIn(
  transport: Pick<Transport, 'listAll'>,
  remoteDir: string,
  pattern: RegExp,
  completeness: Completeness,
  clock: Clock,
): Promise<RemoteEntry[]> {
  const [listed] = await listSettled(
    [{ list: () => transport.listAll(remoteDir), rules: [{ pattern, completeness }] }],
    (ms) => clock.sleep(ms),
  );
  return listed?.first ? completeAmong(listed.first, listed.second, pattern, completeness) : [];
}
