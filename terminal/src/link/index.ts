/** The terminal's reader transports: one interface, serial / HID / in-memory implementations. */
export type { ReaderTransport, TransportFactory } from './transport.ts';
export { createSerialTransport, listSerialPorts } from './serial.ts';
export type { SerialTransportOptions, SerialPortInfo } from './serial.ts';
export { createHidTransport, listHidDevices, nodeHidOpener } from './hid.ts';
export type { HidDeviceLike, HidOpener, HidTransportOptions, HidDeviceInfo } from './hid.ts';
export { createMemoryLink } from './memory.ts';
export type { MemoryLink, MemoryLinkOptions } from './memory.ts';
