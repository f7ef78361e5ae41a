package wsframe_test

import (
	"fmt"

	"github.com/lameduck/lameduck/proxy/wsframe"
)

// A tunnel starts draining while a text frame from the app is half way
// through. It forwards the rest of that frame, injects its close frame,
// and then watches the client's answer in the other direction.
func Example() {
	fromApp := []byte{
		0x81, 0x05, 'h', 'e', 'l', 'l', 'o', // text "hello"
		0x82, 0x03, 1, 2, 3, // binary, 3 bytes
	}
	goodbye, err := wsframe.AppendClose(nil, wsframe.CloseGoingAway, "", false)
	if err != nil {
		panic(err)
	}

	toClient := wsframe.Scanner{Masking: wsframe.MaskForbidden}
	var sent []byte

	// Before the drain: forward the first chunk as it is.
	chunk := fromApp[:4]
	toClient.Advance(chunk)
	sent = append(sent, chunk...)
	fmt.Println("at a boundary after the first chunk:", toClient.AtBoundary())

	// Draining: cut the next chunk where the current frame ends.
	chunk = fromApp[4:]
	k := 0
	if !toClient.AtBoundary() {
		k = toClient.Next(chunk)
	}
	if toClient.AtBoundary() && !toClient.Closed() {
		sent = append(sent, chunk[:k]...)
		sent = append(sent, goodbye...)
	}
	fmt.Printf("to the client: % x\n", sent)

	// The client answers with its own close frame, masked.
	answer, err := wsframe.AppendClose(nil, wsframe.CloseGoingAway, "bye", true)
	if err != nil {
		panic(err)
	}
	fromClient := wsframe.Scanner{Masking: wsframe.MaskRequired}
	fromClient.Advance(answer[:3])
	fmt.Println("client closed after 3 bytes:", fromClient.Closed())
	fromClient.Advance(answer[3:])
	code, reason := fromClient.CloseStatus()
	fmt.Printf("client closed: %v, code %d, reason %q\n", fromClient.Closed(), code, reason)

	// Output:
	// at a boundary after the first chunk: false
	// to the client: 81 05 68 65 6c 6c 6f 88 02 03 e9
	// client closed after 3 bytes: false
	// client closed: true, code 1001, reason "bye"
}

func ExampleAppendClose() {
	frame, err := wsframe.AppendClose(nil, wsframe.CloseServiceRestart, "restarting", false)
	fmt.Printf("% x, %v\n", frame, err)

	_, err = wsframe.AppendClose(nil, 1006, "", false)
	fmt.Println(err)

	// Output:
	// 88 0c 03 f4 72 65 73 74 61 72 74 69 6e 67, <nil>
	// wsframe: close code 1006 cannot be sent
}

func ExampleParseCloseCode() {
	for _, payload := range [][]byte{{0x03, 0xe9}, {}, {0x03, 0xee}} {
		code, ok := wsframe.ParseCloseCode(payload)
		fmt.Println(code, ok)
	}

	// Output:
	// 1001 true
	// 1005 true
	// 1006 false
}
