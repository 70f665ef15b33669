// Package channel delivers one notification to one destination: a generic
// JSON webhook, the DingTalk, WeCom and Feishu group robots, or SMTP mail.
//
// Every payload carries the notification's id (webhook field "id", robot
// text footer, mail Message-ID) so that a receiver can drop the one
// duplicate a crash between delivery and bookkeeping may cause.
package channel
