import { readFile } from 'node:fs/promises';
import { BatonError } from './errors.js';
import type { Service } from './service.js';

/** The service's own maintenance page, if `maintenance.page` names one (unreadable: refused, naming the file). */
export async function readMaintenancePage(service: Service): Promise<string | undefined> {
  const file = service.config.maintenance.page;
  if (file === undefined) return undefined;
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new BatonError('CONFIG_UNREADABLE', `services.${service.name}.maintenance.page: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}
