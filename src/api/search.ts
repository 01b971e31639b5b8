import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Search attributes a mission keeps current, to filter missions in the Web UI and with `temporal workflow list --query`. */
export const MissionStatusKey = defineSearchAttributeKey('MissionStatus', SearchAttributeType.KEYWORD);
export const MissionRepoKey = defineSearchAttributeKey('MissionRepo', SearchAttributeType.KEYWORD);
/** USD spent so far by calls of priced models; absent while no call had a price (cost unknown). */
export const MissionCostUsdKey = defineSearchAttributeKey('MissionCostUsd', SearchAttributeType.DOUBLE);
/** Whether the namespace has the attributes: all, none, or all but MissionCostUsd/MissionStalled (added later than the others). */
export type SearchAttributeSupport = boolean | 'without-cost';
/** Set while an agent is stalled: what the longest-stalled one waits on (`MissionStalled IS NOT NULL` finds them). */
export const MissionStalledKey = defineSearchAttributeKey('MissionStalled', SearchAttributeType.KEYWORD);
export const MISSION_SEARCH_ATTRIBUTES = [MissionStatusKey, MissionRepoKey, MissionCostUsdKey, MissionStalledKey];
