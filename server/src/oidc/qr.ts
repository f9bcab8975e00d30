/**
 * The login page's e-card QR code (docs/login.md §2, §4): its text names the pending login's
 * lookup URL on the server's public base, `{server}/api/v1/ecard/logins/{code}`, which the e-card
 * app opens after scanning. The SVG rendering is deterministic for a text, so a test can check
 * which text a displayed code carries.
 */
import QRCode from 'qrcode';

/** The text of the QR code for login `code`; `publicBase` is the issuer without `/oidc`. */
export function ecardLoginQrText(publicBase: string, code: string): string {
  return `${publicBase.replace(/\/+$/, '')}/api/v1/ecard/logins/${code}`;
}

/** The QR code of `text` as the login page shows it (SVG, error correction M, quiet zone 2). */
export function loginQrSvg(text: string): Promise<string> {
  return QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
}
