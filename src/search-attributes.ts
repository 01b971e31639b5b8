import { Connection } from '@temporalio/client';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { SearchAttributeType } from '@temporalio/common';
import { MISSION_SEARCH_ATTRIBUTES, MissionCostUsdKey, type SearchAttributeSupport } from './api/search';

const INDEXED_TYPES: Record<(typeof MISSION_SEARCH_ATTRIBUTES)[number]['type'], temporal.api.enums.v1.IndexedValueType> = {
  [SearchAttributeType.KEYWORD]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  [SearchAttributeType.DOUBLE]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
};

/**
 * Registers MissionStatus, MissionRepo and MissionCostUsd in the namespace when they are missing (dev server, self-hosted).
 * Returns whether they exist ('without-cost': all but MissionCostUsd): missions upsert them only then, because upserting an unknown attribute
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
    if (still.length === 1 && still[0]!.name === MissionCostUsdKey.name) {
      console.warn(
        `mission worker: search attribute MissionCostUsd is not available (${(err as Error).message}); missions do not publish their cost there. ` +
          `Add it with: temporal operator search-attribute create --namespace ${namespace} --name MissionCostUsd --type Double`,
      );
      return 'without-cost';
    }
    console.warn(
      `mission worker: search attributes MissionStatus/MissionRepo/MissionCostUsd are not available (${(err as Error).message}); missions run without them. ` +
        `Add them with: temporal operator search-attribute create --namespace ${namespace} --name MissionStatus --type Keyword (and MissionRepo; MissionCostUsd with --type Double).`,
    );
    return false;
  } finally {
    await connection.close();
  }
}
