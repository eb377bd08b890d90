/**
 * What is on the operator's calendar: the digest's "Today" section. The calendar connector
 * provides it later; until then no provider is connected and the digest says so.
 */
export interface ScheduleItem {
  /** Local start time `HH:MM`, or null for an all-day item. */
  start: string | null;
  title: string;
  where?: string;
}

/** A source of scheduled items for one operator and local date. */
export interface ScheduleProvider {
  itemsFor(input: { operatorId: number; localDate: string; timezone: string }): Promise<ScheduleItem[]>;
}
