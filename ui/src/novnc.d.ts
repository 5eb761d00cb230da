/** The part of noVNC's RFB class (core/rfb.js, @novnc/novnc 1.7) the UI uses; the package ships no types. */
declare module '@novnc/novnc' {
  export default class RFB extends EventTarget {
    constructor(target: HTMLElement, urlOrChannel: string | WebSocket, options?: { shared?: boolean; credentials?: { password?: string }; wsProtocols?: string[] });
    scaleViewport: boolean;
    resizeSession: boolean;
    clipViewport: boolean;
    viewOnly: boolean;
    focusOnClick: boolean;
    background: string;
    showDotCursor: boolean;
    readonly capabilities: { power: boolean };
    disconnect(): void;
    sendCtrlAltDel(): void;
    sendCredentials(credentials: { password?: string }): void;
    focus(): void;
    blur(): void;
  }
}
