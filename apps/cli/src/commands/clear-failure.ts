import { Command } from 'commander';
import { registerOperatorVerb } from './poison';

/** `buildgraph clear-failure DRV --reason R`: forget a cached failure (Hydra's "restart"). */
export function registerClearFailure(program: Command): void {
  registerOperatorVerb(program, 'clear-failure', 'drv.clear-failure', 'cleared', 'forget the cached failure of a derivation, so the next should-build says build');
}
