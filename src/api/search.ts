import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Search attributes a mission keeps current, to filter missions in the Web UI and with `temporal workflow list --query`. */
export const MissionStatusKey = defineSearchAttributeKey('MissionStatus', SearchAttributeType.KEYWORD);
export const MissionRepoKey = defineSearchAttributeKey('MissionRepo', SearchAttributeType.KEYWORD);
export const MISSION_SEARCH_ATTRIBUTES = [MissionStatusKey, MissionRepoKey];
