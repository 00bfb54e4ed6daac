package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// testService is a gRPC server for the interop TestService: it echoes,
// streams, sums, answers the status a request asks for, and sleeps when
// the call's metadata says "sleep".
type testService struct {
	testpb.UnimplementedTestServiceServer
}

func (testService) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("sleep")) > 0 {
		d, _ := time.ParseDuration(md.Get("sleep")[0])
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if s := in.GetResponseStatus(); s != nil {
		return nil, status.Error(codes.Code(s.GetCode()), s.GetMessage())
	}
	return &testpb.SimpleResponse{Payload: in.GetPayload()}, nil
}

func (testService) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, s testpb.TestService_StreamingOutputCallServer) error {
	for _, p := range in.GetResponseParameters() {
		if err := s.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: make([]byte, p.GetSize())}}); err != nil {
			return err
		}
	}
	return nil
}

func (testService) StreamingInputCall(s testpb.TestService_StreamingInputCallServer) error {
	total := 0
	for {
		in, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return s.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(total)})
		}
		if err != nil {
			return err
		}
		total += len(in.GetPayload().GetBody())
	}
}

func (testService) FullDuplexCall(s testpb.TestService_FullDuplexCallServer) error {
	for {
		in, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.Send(&testpb.StreamingOutputCallResponse{Payload: in.GetPayload()}); err != nil {
			return err
		}
	}
}

// startGRPCServer runs the test service on 127.0.0.1 (h2c) and returns
// its address.
func startGRPCServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	testpb.RegisterTestServiceServer(s, testService{})
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return ln.Addr().String()
}

// TestGRPC: gRPC through rgate, over h2c on the plain port and over TLS:
// all four kinds of call, a deadline, a server's error status passed
// through, and rgate's own refusals in gRPC's form.
func TestGRPC(t *testing.T) {
	t.Parallel()
	addr := startGRPCServer(t)
	ca, dir := newTestCA(t), t.TempDir()
	cert, key := ca.issue(t, dir, "g", 10, false, "grpc.example.test")
	tlsPort := freePort(t)
	g := startGateway(t, fmt.Sprintf(`routes:
  - path_prefix: /grpc.testing.TestService/
    backend: greeter
  - path_prefix: /grpc.testing.UnimplementedService/
    backend: nobody
default_response: {body: "no route", status_code: 404}
backends:
  - name: greeter
    urls: [h2c://%s]
  - name: nobody
    match_labels: [app_name=nothing-carries-this-%s]
server:
  h2c: true
  tls:
    port: %d
    certificates: [{cert_file: %s, key_file: %s}]
`, addr, uniq(t), tlsPort, cert, key))
	conns := map[string]*grpc.ClientConn{}
	for name, dial := range map[string]func() (*grpc.ClientConn, error){
		"h2c": func() (*grpc.ClientConn, error) {
			return grpc.NewClient(g.url[len("http://"):], grpc.WithTransportCredentials(insecure.NewCredentials()))
		},
		"tls": func() (*grpc.ClientConn, error) {
			creds := credentials.NewTLS(&tls.Config{RootCAs: ca.pool, ServerName: "grpc.example.test"})
			return grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", tlsPort), grpc.WithTransportCredentials(creds))
		},
	} {
		cc, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		conns[name] = cc
	}
	for name, cc := range conns {
		t.Run(name, func(t *testing.T) { grpcCalls(t, testpb.NewTestServiceClient(cc)) })
	}
	// rgate's own answers, in gRPC's form.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// The deadline calls above end in rgate a moment after the client gave
	// up: let the counts settle first.
	var errsBefore int64
	eventually(t, 5*time.Second, "/stats settled", func() bool {
		_, a := g.stats(t).counts(t)
		time.Sleep(300 * time.Millisecond)
		_, b := g.stats(t).counts(t)
		errsBefore = b
		return a == b
	})
	_, err := testpb.NewUnimplementedServiceClient(conns["h2c"]).UnimplementedCall(ctx, &testpb.Empty{})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("a backend with no upstream: %v, want Unavailable", err)
	}
	err = conns["h2c"].Invoke(ctx, "/no.such.Service/Call", &testpb.Empty{}, &testpb.Empty{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("no route: %v, want Unimplemented", err)
	}
	if _, errs := g.stats(t).counts(t); errs-errsBefore != 2 {
		t.Errorf("/stats counted %d errors for rgate's two refusals, want 2", errs-errsBefore)
	}
}

// grpcCalls runs every kind of call through c.
func grpcCalls(t *testing.T, c testpb.TestServiceClient) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// Unary.
	res, err := c.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("hello")}})
	if err != nil || string(res.GetPayload().GetBody()) != "hello" {
		t.Fatalf("unary: %v %v", res, err)
	}
	// A server's error status passes through intact.
	_, err = c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.PermissionDenied), Message: "not you"}})
	if st := status.Convert(err); st.Code() != codes.PermissionDenied || st.Message() != "not you" {
		t.Errorf("error status: %v, want PermissionDenied \"not you\"", err)
	}
	// Server streaming.
	out, err := c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}, {Size: 10}, {Size: 100000}}})
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for {
		m, err := out.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("server streaming: %v", err)
		}
		sizes = append(sizes, len(m.GetPayload().GetBody()))
	}
	if fmt.Sprint(sizes) != "[1 10 100000]" {
		t.Errorf("server streaming got %v", sizes)
	}
	// Client streaming.
	in, err := c.StreamingInputCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{3, 30, 70000} {
		if err := in.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: make([]byte, n)}}); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := in.CloseAndRecv()
	if err != nil || sum.GetAggregatedPayloadSize() != 70033 {
		t.Errorf("client streaming: %v %v, want 70033", sum, err)
	}
	// Bidirectional: each message answered before the next is sent.
	bidi, err := c.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, word := range []string{"one", "two", "three"} {
		if err := bidi.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(word)}}); err != nil {
			t.Fatal(err)
		}
		m, err := bidi.Recv()
		if err != nil || string(m.GetPayload().GetBody()) != word {
			t.Fatalf("bidi %s: %v %v", word, m, err)
		}
	}
	_ = bidi.CloseSend()
	if _, err := bidi.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("bidi end: %v, want EOF", err)
	}
	// A deadline shorter than the server's work ends the call with
	// DeadlineExceeded (rgate bounds its wait by grpc-timeout too).
	short, cancelShort := context.WithTimeout(metadata.AppendToOutgoingContext(ctx, "sleep", "3s"), 300*time.Millisecond)
	defer cancelShort()
	start := time.Now()
	_, err = c.UnaryCall(short, &testpb.SimpleRequest{})
	if status.Code(err) != codes.DeadlineExceeded || time.Since(start) > 2*time.Second {
		t.Errorf("deadline: %v after %v, want DeadlineExceeded", err, time.Since(start))
	}
}
