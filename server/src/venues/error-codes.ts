/** Error codes of venue events and registrations, composed into the server registry by `src/errors.ts`. */
export const VENUES_ERRORS = {
  SRV_ERR_VENUE_REGISTRATION_CLOSED: 'Registration for this event is not open (window {opensAt}–{closesAt})',
  SRV_ERR_VENUE_EVENT_FULL: 'The event has as many registrations as its capacity',
  SRV_ERR_VENUE_CARD_HOTLISTED: 'The card is on the hotlist: it cannot be registered',
  SRV_ERR_VENUE_NOT_ASSIGNED: 'The terminal\'s configuration is not for this venue',
} as const satisfies Record<`SRV_ERR_${string}`, string>;

export const VENUES_ERROR_STATUS: Readonly<Record<keyof typeof VENUES_ERRORS, number>> = {
  SRV_ERR_VENUE_REGISTRATION_CLOSED: 409,
  SRV_ERR_VENUE_EVENT_FULL: 409,
  SRV_ERR_VENUE_CARD_HOTLISTED: 403,
  SRV_ERR_VENUE_NOT_ASSIGNED: 403,
};
