// What the page knows, in one place: the table as the feed last said, what this viewer measured,
// every call the table's monitor saw, and what the person chose (the filter and the selected object).

import type { FeedEvent, ViewerCounts, ViewerEntry, ViewerTraffic } from '../shared/viewer.js';

export type Status = Extract<FeedEvent, { type: 'status' }>;

export interface State {
  entries: Map<string, ViewerEntry>;
  counts: Record<string, ViewerCounts>;
  traffic: ViewerTraffic;
  status: Status | undefined;
  /** The feed is open (the viewer's server is reachable). */
  live: boolean;
  filter: string;
  selected: string | undefined;
}

export function newState(): State {
  return {
    entries: new Map(),
    counts: {},
    traffic: { pairs: [], errors: [], missed: 0 },
    status: undefined,
    live: false,
    filter: '',
    selected: undefined,
  };
}

/** The entries the filter lets through, by moniker. */
export function visibleEntries(state: State): ViewerEntry[] {
  return [...state.entries.values()]
    .filter((entry) => entry.moniker.startsWith(state.filter))
    .sort((a, b) => (a.moniker < b.moniker ? -1 : a.moniker > b.moniker ? 1 : 0));
}
