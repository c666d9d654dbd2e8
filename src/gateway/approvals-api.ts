// Standalone approvers' endpoint, used by `phigate approve|deny` and `phigate approvals list`.
// In a cluster the same decisions are `kubectl patch` of ApprovalRequest status.
import express, { type Request, type Response } from 'express';
import type { ApprovalDecision } from '../api/types.ts';
import type { ApprovalService } from '../approvals/service.ts';
import type { Identity } from './identity.ts';
import { GatewayError, badRequest, internalError } from './errors.ts';

export function approvalsRouter(approvals: ApprovalService) {
  const router = express.Router();
  const fail = (res: Response, e: unknown) => {
    const err = e instanceof GatewayError ? e : internalError();
    res.status(err.status).json(err.toBody());
  };

  router.get('/', async (_req: Request, res: Response) => {
    try {
      res.json({ items: await approvals.listVisible(res.locals.identity as Identity) });
    } catch (e) { fail(res, e); }
  });

  const one = async (req: Request, res: Response) => {
    try {
      const ref = req.params.ns ? `${req.params.ns}/${req.params.name}` : String(req.params.name);
      const found = await approvals.find(ref, res.locals.identity as Identity);
      res.json(await approvals.get(found.metadata.namespace!, found.metadata.name));
    } catch (e) { fail(res, e); }
  };
  router.get('/:name', one);
  router.get('/:ns/:name', one);

  const review = async (req: Request, res: Response) => {
    try {
      const body = (req.body ?? {}) as { decision?: unknown; reason?: unknown };
      if (body.decision !== 'Approved' && body.decision !== 'Denied') throw badRequest('"decision" must be "Approved" or "Denied"');
      if (typeof body.reason !== 'string' || body.reason.trim() === '' || body.reason.length > 1000) {
        throw badRequest('"reason" is required (at most 1000 characters): say why, e.g. the ticket');
      }
      const ref = req.params.ns ? `${req.params.ns}/${req.params.name}` : String(req.params.name);
      const id = res.locals.identity as Identity;
      res.json(await approvals.review(ref, { user: id.user, groups: id.groups }, body.decision as ApprovalDecision, body.reason));
    } catch (e) { fail(res, e); }
  };
  router.post('/:name/review', review);
  router.post('/:ns/:name/review', review);
  return router;
}
