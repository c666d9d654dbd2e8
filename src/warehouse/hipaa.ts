// HIPAA Safe Harbor (45 CFR 164.514(b)(2)(i)(B)) keeps the first three digits of a ZIP code
// only where the three-digit area holds more than 20,000 people; zip3 masks the others to 000.
// The list is HHS's, from the 2000 Census (the one the guidance names); the Snowflake and
// DuckDB adapters both read it from here.
export const RESTRICTED_ZIP3: readonly string[] = [
  '036', '059', '063', '102', '203', '556', '692', '790', '821', '823', '830', '831', '878', '879', '884', '890', '893',
];
