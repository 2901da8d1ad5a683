import { Body, Controller, HttpCode, Inject, NotFoundException, Post, BadRequestException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { describeIssues, ErasureRequest, SchemaIds, SchemaValidator } from '@kairos/contracts';
import { EraseProfileUseCase, ErasureResult } from './erase-profile.use-case';

/**
 * The internal erasure API (not for the public internet: it erases customers). POST /internal/erasures with
 * {"profileId": "…"} or {"identifier": {"type": "email", "value": "…"}} and optionally a requestId (idempotency key).
 * 200 with what was erased; 404 when no profile matched (a named identifier is still suppressed); 400 for a bad body.
 */
@Controller('internal/erasures')
export class ErasureController {
  constructor(
    @Inject(EraseProfileUseCase) private readonly erase: EraseProfileUseCase,
    @Inject(SchemaValidator) private readonly validator: SchemaValidator,
  ) {}

  @Post()
  @HttpCode(200)
  async request(@Body() body: unknown): Promise<ErasureResult> {
    const request = { requestId: randomUUID(), ...(body !== null && typeof body === 'object' ? body : {}) };
    const checked = this.validator.validate<ErasureRequest>(SchemaIds.erasureRequest, request);
    if (!checked.valid) throw new BadRequestException(`invalid erasure request: ${describeIssues(checked.issues)}`);
    const result = await this.erase.execute(checked.value);
    if (!result.found) throw new NotFoundException({ message: 'no profile matched; the named identifier is suppressed nonetheless', ...result });
    return result;
  }
}
