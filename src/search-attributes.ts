import { Connection } from '@temporalio/client';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { SearchAttributeType } from '@temporalio/common';
import { MISSION_SEARCH_ATTRIBUTES, MissionCostUsdKey, MissionStalledKey, type SearchAttributeSupport } from './api/search';

const INDEXED_TYPES: Record<(typeof MISSION_SEARCH_ATTRIBUTES)[number]['type'], temporal.api.enums.v1.IndexedValueType> = {
  [SearchAttributeType.KEYWORD]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  [SearchAttributeType.DOUBLE]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
};

/**
 * Registers MissionStatus, MissionRepo, MissionCostUsd and MissionStalled in the namespace when they are missing (dev server, self-hosted).
 * Returns whether they exist ('without-cost': all but MissionCostUsd and/or MissionStalled): missions upsert them only then, because upserting an unknown attribute
 * would fail every workflow task. Where registration is not allowed (e.g. Temporal Cloud without admin
 * rights) the worker runs without them and says how to add them.
 */
export async function ensureSearchAttributes(options: Pick<NativeConnectionOptions, 'address' | 'tls' | 'apiKey' | 'metadata'>, namespace: string): Promise<SearchAttributeSupport> {
  const connection = await Connection.connect({ address: options.address, tls: options.tls, apiKey: options.apiKey, metadata: options.metadata });
  const missing = async () => {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    return MISSION_SEARCH_ATTRIBUTES.filter((key) => !(key.name in (existing.customAttributes ?? {})));
  };
  try {
    const absent = await missing();
    if (!absent.length) return true;
    try {
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(absent.map((key) => [key.name, INDEXED_TYPES[key.type]])),
      });
    } catch (err) {
      if ((await missing()).length) throw err; // another worker added them at the same time: fine
    }
    return true;
  } catch (err) {
    // A namespace set up before MissionCostUsd existed keeps its other two: missions just do not publish the cost.
    const still = await missing().catch(() => MISSION_SEARCH_ATTRIBUTES);
    // MissionCostUsd and MissionStalled came later: without either, missions publish neither (but keep the first two).
    const later = [MissionCostUsdKey.name, MissionStalledKey.name];
    if (still.length && still.every((key) => later.includes(key.name))) {
      console.warn(
        `mission worker: search attribute(s) ${still.map((k) => k.name).join(', ')} not available (${(err as Error).message}); missions do not publish their cost or stalls there. ` +
          `Add them with: temporal operator search-attribute create --namespace ${namespace} --name MissionCostUsd --type Double (and --name MissionStalled --type Keyword)`,
      );
      return 'without-cost';
    }
    console.warn(
      `mission worker: search attributes MissionStatus/MissionRepo/MissionCostUsd/MissionStalled are not available (${(err as Error).message}); missions run without them. ` +
        `Add them with: temporal operator search-attribute create --namespace ${namespace} --name MissionStatus --type Keyword (and MissionRepo, MissionStalled; MissionCostUsd with --type Double).`,
    );
    return false;
  } finally {
    await connection.close();
  }
}
