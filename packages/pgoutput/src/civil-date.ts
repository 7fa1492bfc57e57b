/**
 * The result of `civilFromDays`, overwritten by each call so that dates
 * allocate nothing: read it before the next call.
 */
export const civil = { year: 0, month: 0, day: 0 };

/**
 * Proleptic Gregorian date of a day count since 1970-01-01, into `civil`
 * (Howard Hinnant's civil_from_days). Year 0 is 1 BC, year -1 is 2 BC.
 */
export function civilFromDays(days: number): void {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  civil.day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  civil.month = mp < 10 ? mp + 3 : mp - 9;
  civil.year = yoe + era * 400 + (civil.month <= 2 ? 1 : 0);
}
