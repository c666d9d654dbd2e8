// HIPAA Safe Harbor (45 CFR 164.514(b)(2)(i)(B)) keeps the first three digits of a ZIP code
// only where that area holds more than 20,000 people; zip3 masks the listed prefixes to 000.
// This is the project's agreed list (DESIGN brief); keep it in step with the Snowflake adapter.
export const RESTRICTED_ZIP3: readonly string[] = [
  '036', '059', '102', '203', '205', '369', '556', '692', '821', '823', '878', '879', '884', '893',
];
