// Synthetic true-positive / false-positive sets per detector. All values are made up: 555
// phone numbers, example.org/.net domains, documentation IP ranges, public card test numbers.
import type { DetectorName } from '../../../src/api/types.ts';

/** `value` is the span the JS scan must replace (labels it keeps stay outside `value`). */
export interface TruePositive { text: string; value: string }

const tp = (text: string, value?: string): TruePositive => ({ text, value: value ?? text });

export const TRUE_POSITIVES: Record<DetectorName, TruePositive[]> = {
  ssn: [
    tp('SSN 123-45-6789 on file', '123-45-6789'),
    tp('ssn: 123 45 6789', '123 45 6789'),
    tp('(234-56-7890)', '234-56-7890'),
    tp('id=345-67-8901.', '345-67-8901'),
    tp('SSN: 123456789', '123456789'),
    tp('Social Security Number: 987654321', '987654321'),
    tp('SSN#234567890', '234567890'),
    tp('the ssn is 345678901, verified', '345678901'),
    tp('SSN-456-78-9012', '456-78-9012'),
    tp('note\n321-54-9876\nend', '321-54-9876'),
  ],
  phone: [
    tp('call 555-123-4567 today', '555-123-4567'),
    tp('(555) 123-4567'),
    tp('fax 555.123.4567.', '555.123.4567'),
    tp('cell +1 555 123 4567', '+1 555 123 4567'),
    tp('1-555-123-4567'),
    tp('+1 (555) 123-4567'),
    tp('home 555 123 4567, work 555 987 6543', '555 123 4567'),
    tp('(555)123-4567'),
    tp('whatsapp +15551234567', '+15551234567'),
    tp('Phone: 5551234567', '5551234567'),
    tp('TEL 5550001111', '5550001111'),
  ],
  email: [
    tp('jane.doe@example.org'),
    tp('write to a.b+tag@mail.example.com now', 'a.b+tag@mail.example.com'),
    tp('J_Smith99@example.co.uk'),
    tp('contact: x@example.org.', 'x@example.org'),
    tp('<pat-01@example.net>', 'pat-01@example.net'),
    tp('mailto:someone@example.org', 'someone@example.org'),
    tp('USER@EXAMPLE.ORG'),
    tp('first.last%dept@sub.example.io, cc', 'first.last%dept@sub.example.io'),
    tp('jane.1980-01-31@example.org', 'jane.1980-01-31@example.org'),
  ],
  mrn: [
    tp('MRN-12345678'),
    tp('MRN: 12345678'),
    tp('seen as MRN 23456789 today', 'MRN 23456789'),
    tp('mrn-87654321'),
    tp('MRN#12345678'),
    tp('Mrn:34567890'),
    tp('MRN no. 45678901'),
    tp('medical record number 56789012'),
    tp('(MRN-00012345)', 'MRN-00012345'),
  ],
  date: [
    tp('on 2024-01-31 at', '2024-01-31'),
    tp('2024-01-31T10:15:00Z'),
    tp('DOB 01/31/2024', '01/31/2024'),
    tp('seen 1/31/24.', '1/31/24'),
    tp('Jan 31, 2024'),
    tp('January 31 2024'),
    tp('on Jan. 31st, 2024 and', 'Jan. 31st, 2024'),
    tp('31 Jan 2024'),
    tp('admitted March 2024', 'March 2024'),
    tp('DOB:12-25-1980', '12-25-1980'),
    tp('2024/01/31'),
    tp('SEPT 5, 2023'),
  ],
  ip: [
    tp('from 192.168.0.1 at', '192.168.0.1'),
    tp('10.0.0.255'),
    tp('host 203.0.113.9:8080', '203.0.113.9'),
    tp('(198.51.100.23)', '198.51.100.23'),
    tp('255.255.255.255'),
    tp('0.0.0.0'),
    tp('2001:db8::1'),
    tp('2001:0db8:0000:0000:0000:ff00:0042:8329'),
    tp('loopback ::1 only', '::1'),
    tp('::ffff:192.0.2.128'),
    tp('fe80::1ff:fe23:4567:890a'),
  ],
  url: [
    tp('https://example.org'),
    tp('http://example.org/path?q=1&r=2'),
    tp('see https://example.org/a/b.', 'https://example.org/a/b'),
    tp('(https://example.org/x)', 'https://example.org/x'),
    tp('HTTPS://EXAMPLE.ORG/X'),
    tp('https://user@example.org:8443/p#frag'),
    tp('http://192.0.2.1/admin'),
    tp('"https://example.org/q?id=555-123-4567"', 'https://example.org/q?id=555-123-4567'),
    tp('<http://example.net/>', 'http://example.net/'),
  ],
  zip: [
    tp('Springfield, IL 62704', '62704'),
    tp('Anytown, CA 90000-1234', '90000-1234'),
    tp('NY 10001', '10001'),
    tp('ZIP 02134', '02134'),
    tp('zip code: 60601', '60601'),
    tp('Zip:30301', '30301'),
    tp('ZIP+4: 98101-1234', '98101-1234'),
    tp('Postal code 33101', '33101'),
    tp('Anytown, WA, 98101', '98101'),
  ],
  credit_card: [
    tp('card 4111 1111 1111 1111 exp', '4111 1111 1111 1111'),
    tp('4111-1111-1111-1111'),
    tp('4111111111111111'),
    tp('5555555555554444'),
    tp('378282246310005'),
    tp('3782 822463 10005'),
    tp('6011111111111117'),
    tp('4222222222222'),
    tp('3056 930902 5904'),
    tp('pan=4000056655665556;', '4000056655665556'),
  ],
};

export const FALSE_POSITIVES: Record<DetectorName, string[]> = {
  ssn: [
    '123-45-67890', '0123-45-6789', 'call 555-123-4567', '2024-01-31', 'ref 123456789',
    'SSN 12345678', 'SSN 1234567890', 'part A123-45-6789', '123-45-6789-1', '12-345-6789',
    '123 45 67890', '1-123-45-6789',
  ],
  phone: [
    '123-45-6789', 'years 2019-2024', '1999-2000-2001', 'id 5551234567', '555-1234',
    '555-123-45678', '1555-123-4567', '555-123-4567-89', 'order 12345678901234', '2024-01-31',
    '192.168.100.200', '555-123 4567',
  ],
  email: [
    'user@localhost', '@example', 'a@b', 'x@y.z', 'foo@1.2.3.4', 'icon@2x.png', 'price @ 5 each',
    'name@example', 'foo@.org', 'email at example.org',
  ],
  mrn: [
    'MRN-1234567', 'MRN-123456789', 'MRN-ABCDEFGH', '12345678', 'XMRN-12345678', 'MRN 1234 5678',
    'MRN pending', 'NRN-12345678', 'MRN-12345678-9',
  ],
  date: [
    'version 1.2.3', 'v2.10.1', 'in 2024', 'Q1 2024', 'BP 120/80', '3/4 cup', 'on 10/20',
    '2024-13-01', '2024-01-32', '1/2/345', 'May be 2024', 'release 2024.01.31', '32/01/2024',
    'years 1990-1995',
  ],
  ip: [
    '999.1.1.1', '256.1.1.1', '1.2.3', '1.2.3.4.5', '01.02.03.04', 'at 12:30:45',
    'mac 00:1A:2B:3C:4D:5E', 'v1.2.3.4', 'std::vector', '1.2.3.256', '192.168.1',
    '1:2:3:4:5:6:7:8:9',
  ],
  url: [
    'example.org', 'www.example.org', 'ftp://example.org', 'http://', 'https:// example',
    'file:///tmp/x', 'the http protocol', 'https is required',
  ],
  zip: [
    '12345', 'in 12345 cases', 'or 12345 units', 'Room 12345', 'CA 1234', 'CA 123456',
    'ZIP 1234', 'XX 12345', 'CAL 12345', 'zipper 12345', 'ILL 12345',
  ],
  credit_card: [
    '4111111111111112', '4111 1111 1111 1112', '1234567890123', '123456789012',
    '41111111111111111111', '4111 1111 1111', '4111-1111 1111-1111', 'x4111111111111111',
    'call 555-123-4567', '5555555555554445',
  ],
};
