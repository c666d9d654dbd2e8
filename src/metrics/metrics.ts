// Every metric phigate exports, defined once, as typed handles on one registry. Labels are
// low-cardinality by construction: outcomes, rules, strategies, detectors, front ends.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();

  readonly statements = new Counter({
    name: 'phigate_statements_total',
    help: 'Statements received, by decision outcome and front end.',
    labelNames: ['outcome', 'front_end'] as const,
    registers: [this.registry],
  });
  readonly denials = new Counter({
    name: 'phigate_denials_total',
    help: 'Denied statements by rule (guardrail class, table_not_allowed, unparsed, ...).',
    labelNames: ['rule'] as const,
    registers: [this.registry],
  });
  readonly decisionSeconds = new Histogram({
    name: 'phigate_decision_duration_seconds',
    help: 'Time to analyse, decide and rewrite a statement (excludes the warehouse).',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [this.registry],
  });
  readonly requestSeconds = new Histogram({
    name: 'phigate_request_duration_seconds',
    help: 'End-to-end time of a statement request, from receipt to the last row sent.',
    labelNames: ['outcome'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly maskedCells = new Counter({
    name: 'phigate_masked_cells_total',
    help: 'Result cells masked, by masking rule strategy or result-scan detector.',
    labelNames: ['source', 'name'] as const,
    registers: [this.registry],
  });
  readonly rowsReturned = new Counter({
    name: 'phigate_rows_returned_total',
    help: 'Rows sent to agents.',
    registers: [this.registry],
  });
  readonly upstreamErrors = new Counter({
    name: 'phigate_upstream_errors_total',
    help: 'Errors from the warehouse, by engine.',
    labelNames: ['engine'] as const,
    registers: [this.registry],
  });
  readonly auditWriteFailures = new Counter({
    name: 'phigate_audit_write_failures_total',
    help: 'Audit records that could not be written (the statement failed closed).',
    registers: [this.registry],
  });
  readonly auditRecords = new Counter({
    name: 'phigate_audit_records_total',
    help: 'Audit records written, by event.',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  readonly policiesLoaded = new Gauge({
    name: 'phigate_policies_loaded',
    help: 'AccessPolicies compiled and serving.',
    registers: [this.registry],
  });
  readonly approvalsPending = new Gauge({
    name: 'phigate_approvals_pending',
    help: 'Approval requests waiting for a decision.',
    registers: [this.registry],
  });
  readonly approvalDecisions = new Counter({
    name: 'phigate_approval_decisions_total',
    help: 'Approval requests by final outcome (approved, denied, expired, executed).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly approvalDecisionSeconds = new Histogram({
    name: 'phigate_approval_time_to_decision_seconds',
    help: 'Time from an approval request to its decision.',
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600],
    registers: [this.registry],
  });

  readonly kubeApiRequests = new Counter({
    name: 'phigate_kube_api_requests_total',
    help: 'Requests this process sent to the Kubernetes API server, by verb (get, list, watch, create, update, ...), resource and HTTP status (or "error").',
    labelNames: ['verb', 'resource', 'code'] as const,
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'phigate_process_' });
  }
}
