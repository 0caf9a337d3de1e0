import NIOCore
import NIOHTTP1

/// Gathers HTTP/1 request parts into complete requests (refusing bodies past the limit with 413),
/// hands them to the responder, and writes its responses. The pipelining handler before it
/// delivers one request at a time per connection.
final class OIPChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case receiving(HTTPRequestHead, ByteBuffer)
        /// The body was too large: the 413 is sent; the rest of the body is read and dropped
        /// (closing with unread data would reset the connection and could lose the 413), then
        /// the connection closes.
        case discarding(Int)
        case responding
    }

    private var state = State.idle
    /// How much of a refused body is read before the connection is closed anyway.
    static let maxDiscardedBytes = 64 << 20
    private let responder: OIPResponder
    private let maxBodyBytes: Int
    private let tracker: RequestTracker

    init(responder: OIPResponder, maxBodyBytes: Int, tracker: RequestTracker) {
        self.responder = responder
        self.maxBodyBytes = maxBodyBytes
        self.tracker = tracker
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .idle):
            if let length = head.headers.first(name: "content-length").flatMap({ Int($0) }), length > maxBodyBytes {
                refuseTooLarge(context: context, head: head, size: "\(length) bytes")
                return
            }
            if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
                context.writeAndFlush(
                    wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            }
            let capacity = head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
            state = .receiving(head, context.channel.allocator.buffer(capacity: capacity))
        case (.body(var part), .receiving(let head, var body)):
            guard body.readableBytes + part.readableBytes <= maxBodyBytes else {
                refuseTooLarge(context: context, head: head, size: "more than \(maxBodyBytes) bytes")
                return
            }
            state = .idle  // let `body` be uniquely referenced while it grows
            body.writeBuffer(&part)
            state = .receiving(head, body)
        case (.end, .receiving(let head, let body)):
            state = .responding
            dispatch(context: context, head: head, body: body)
        case (.body(let part), .discarding(let dropped)):
            // Past a bound, stop reading a body nobody will use.
            if dropped + part.readableBytes > Self.maxDiscardedBytes { context.close(promise: nil) }
            state = .discarding(dropped + part.readableBytes)
        case (.end, .discarding):
            context.close(promise: nil)
        case (.head, .discarding):
            break
        case (.head, _), (.body, _), (.end, _):
            // Cannot happen behind the pipelining handler; drop the connection rather than guess.
            context.close(promise: nil)
        }
    }

    private func dispatch(context: ChannelHandlerContext, head: HTTPRequestHead, body: ByteBuffer) {
        let request = HTTPRequestMessage(
            method: head.method.rawValue, target: head.uri,
            inferenceHeaderLength: head.headers.first(name: "inference-header-content-length"),
            contentEncoding: head.headers.first(name: "content-encoding"), body: body)
        let keepAlive = head.isKeepAlive
        let version = head.version
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        tracker.started()
        responder.respond(request) { [tracker] response in
            let write: @Sendable () -> Void = {
                let (handler, context) = bound.value
                handler.write(response, version: version, keepAlive: keepAlive, context: context)
                tracker.finished()
            }
            if loop.inEventLoop { write() } else { loop.execute(write) }
        }
    }

    private func write(
        _ response: HTTPResponseMessage, version: HTTPVersion, keepAlive: Bool, closeAfterWrite: Bool = true,
        context: ChannelHandlerContext
    ) {
        let close = !keepAlive || responder.isDraining
        var headers = HTTPHeaders()
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        headers.add(name: "Content-Length", value: String(response.body.count))
        if close { headers.add(name: "Connection", value: "close") }
        context.write(
            wrapOutboundOut(
                .head(HTTPResponseHead(version: version, status: .init(statusCode: response.status), headers: headers))),
            promise: nil)
        if !response.body.isEmpty {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if case .responding = state { state = .idle }
        if close && closeAfterWrite {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    private func refuseTooLarge(context: ChannelHandlerContext, head: HTTPRequestHead, size: String) {
        state = .discarding(0)
        let error = InferenceError(.payloadTooLarge, "the request body (\(size)) is over the limit of \(maxBodyBytes) bytes")
        responder.metrics.recordRequest(route: "too_large", status: 413, duration: .zero)
        write(.error(error), version: head.version, keepAlive: false, closeAfterWrite: false, context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
