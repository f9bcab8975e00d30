/**
 * An {@link ApduPort} of the issuing device seen as the terminal's {@link CardChannel}, so the
 * issuance and maintenance flows reuse the card services (`services/ssse.ts`, `services/psam.ts`:
 * SSSE opening, internal and external authentication through the PSAM, PSAM MACs) instead of
 * repeating them.
 */
import type { CommandApdu, ResponseApdu } from '@onecard/protocol/iso7816';
import type { CardChannel } from '../card/channel.ts';
import type { ApduPort } from './device-client.ts';

/** The port as a channel of the card session that began with `atr`. */
export function channelOf(port: ApduPort, atr: Uint8Array, protocol: 0 | 1 = 0): CardChannel {
  return {
    atr,
    protocol,
    async transmit(apdu: CommandApdu): Promise<ResponseApdu> {
      const r = await port.transmit(apdu);
      return { data: r.data, sw: r.sw, sw1: r.sw >> 8, sw2: r.sw & 0xff };
    },
  };
}
