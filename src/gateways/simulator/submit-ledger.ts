/** The concatenation header of one part of a long message. */
export interface Concatenation {
  reference: number;
  total: number;
  sequence: number;
}

/** One message as the simulator saw it: a single submit, or the parts of a long one (by reference). */
interface ReceivedMessage {
  reference: number | null;
  parts: Array<string | undefined>;
}

/**
 * What an SMS simulator counted: every submit, the accepted ones (one per part), and when numbers
 * are tracked, the messages accepted per number with long messages put back together.
 */
export class SubmitLedger {
  private received = new Map<string, ReceivedMessage[]>();
  private submitCount = 0;
  private acceptedCount = 0;

  constructor(private readonly trackNumbers: boolean) {}

  get totalSubmits(): number {
    return this.submitCount;
  }

  get acceptedSubmits(): number {
    return this.acceptedCount;
  }

  /** Counts a submit, whatever it will be answered. */
  submitted(): void {
    this.submitCount += 1;
  }

  /** Counts an accepted submit (one part) for the number; `content` is read only when numbers are tracked. */
  accepted(msisdn: string, content: () => { text: string; concatenation: Concatenation | null }): void {
    this.acceptedCount += 1;
    if (!this.trackNumbers) return;
    const { text, concatenation } = content();
    const messages = this.received.get(msisdn) ?? [];
    this.received.set(msisdn, messages);
    if (!concatenation) {
      messages.push({ reference: null, parts: [text] });
      return;
    }
    const { reference, total, sequence } = concatenation;
    // A part joins the open message with its reference; a repeated part starts a new message,
    // which is how a resubmitted message shows up in `submitsFor`.
    let message = messages.find(
      (candidate) =>
        candidate.reference === reference &&
        candidate.parts.length === total &&
        candidate.parts.includes(undefined) &&
        candidate.parts[sequence - 1] === undefined,
    );
    if (!message) {
      message = { reference, parts: Array.from({ length: total }, () => undefined) };
      messages.push(message);
    }
    message.parts[sequence - 1] = text;
  }

  /** Messages (a single submit, or a long message counted once) accepted for the number. */
  submitsFor(msisdn: string): number {
    return this.received.get(msisdn)?.length ?? 0;
  }

  /** The texts accepted for the number, long messages put back together; a missing part shows as '…'. */
  messagesFor(msisdn: string): string[] {
    return (this.received.get(msisdn) ?? []).map((message) => message.parts.map((part) => part ?? '…').join(''));
  }

  reset(): void {
    this.received = new Map();
    this.submitCount = 0;
    this.acceptedCount = 0;
  }
}
