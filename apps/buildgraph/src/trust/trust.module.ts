import { Module } from '@nestjs/common';
import { SERVICE_CONFIG, ServiceConfig } from '../config/config';
import { SignatureChecker } from './signature-checker';
import { loadTrust, TRUST_STORE } from './trust';

@Module({
  providers: [{ provide: TRUST_STORE, inject: [SERVICE_CONFIG], useFactory: (config: ServiceConfig) => loadTrust(config) }, SignatureChecker],
  exports: [TRUST_STORE, SignatureChecker],
})
export class TrustModule {}
