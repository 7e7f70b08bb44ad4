import { Module } from '@nestjs/common';
import { SERVICE_CONFIG, ServiceConfig } from '../config/config';
import { loadTrust, TRUST_STORE } from './trust';

@Module({
  providers: [{ provide: TRUST_STORE, inject: [SERVICE_CONFIG], useFactory: (config: ServiceConfig) => loadTrust(config) }],
  exports: [TRUST_STORE],
})
export class TrustModule {}
